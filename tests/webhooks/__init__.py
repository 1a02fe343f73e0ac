"""Webhooks (``webhooks``): signing, endpoint records, delivery through a loopback receiver, the
CLI, and what the guard holds back."""
