"""How Tracklog runs: the `tracklog` command (cli/), the embedded single-machine stack
(embedded/), the demo, MLflow's server over Tracklog (mlflow_server.py), server processes
(processes.py), and the files for real deployments (compose.yaml, k8s/, Dockerfile,
dashboards/).

May import: anything of Tracklog (the top layer); nothing imports it.
"""
