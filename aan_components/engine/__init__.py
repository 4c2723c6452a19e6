"""mmengine hooks of aan-components; importing this registers them in ``mmpose.registry.HOOKS``."""

from .channels_last_hook import ChannelsLastHook
from .finite_loss_hook import FiniteLossHook, NonFiniteLossError
from .time_budget_hook import TimeBudgetHook

__all__ = ["ChannelsLastHook", "FiniteLossHook", "NonFiniteLossError", "TimeBudgetHook"]
