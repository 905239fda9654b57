"""Observability: the seam the call path calls (``seam``), and OpenTelemetry behind it (``otel``, lazy)."""
