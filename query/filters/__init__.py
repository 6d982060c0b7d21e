"""MLflow's filter and order-by languages (runs, experiments, logged models, clauses),
parsed into typed trees and compiled to parameterized SQL. Pure.

May import: `tracklog.contract` and the standard library.
"""
