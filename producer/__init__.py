"""Tracklog: experiment tracking over Kafka. The fluent SDK lives here."""
