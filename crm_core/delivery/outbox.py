"""What every outbox (webhooks, rep notifications) shares: when to try a failed delivery again."""

from datetime import timedelta


def backoff(attempts: int, base_seconds: float, cap: timedelta) -> timedelta:
    """Delay before the next try after ``attempts`` failures: base × 2^(attempts − 1), at most ``cap``."""
    return min(timedelta(seconds=base_seconds * 2 ** max(attempts - 1, 0)), cap)
