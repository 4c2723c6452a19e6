"""mmengine hooks of aan-components; importing this registers them in ``mmpose.registry.HOOKS``."""

from .time_budget_hook import TimeBudgetHook

__all__ = ["TimeBudgetHook"]
