"""mmengine hooks and optimizer wrapper of aan-components; importing this registers them in
``mmpose.registry.HOOKS`` and ``OPTIM_WRAPPERS``."""

from .bf16_autocast_optim_wrapper import BF16AutocastOptimWrapper, cpu_supports_bf16
from .channels_last_hook import ChannelsLastHook
from .cpu_threads_hook import CPUThreadsHook
from .finite_loss_hook import FiniteLossHook, NonFiniteLossError
from .iter_pipeline_switch_hook import IterPipelineSwitchHook
from .time_budget_hook import TimeBudgetHook

__all__ = ["BF16AutocastOptimWrapper", "CPUThreadsHook", "ChannelsLastHook", "FiniteLossHook",
           "IterPipelineSwitchHook", "NonFiniteLossError", "TimeBudgetHook", "cpu_supports_bf16"]
