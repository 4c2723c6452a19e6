# The CPU switch: the paper's optimiser and the runtime (schedules/paper_50k.py, which stands on
# default_runtime.py) with bf16 autocast (the head and loss in fp32; fp32 with a note on
# CPUs without bf16), fused Adam, channels-last weights (ChannelsLastHook) and the cores split
# between the model and the loader workers (CPUThreadsHook). Same model, data and numbers of
# steps; only how fast it runs changes. A config takes it in place of the schedule fragment:
#   _base_ = ['./cpu_switch.py', './models/aan.py', './datasets/face_topdown.py']
_base_ = ['./schedules/paper_50k.py']

optim_wrapper = dict(type='BF16AutocastOptimWrapper', optimizer=dict(fused=True))
default_hooks = dict(
    channels_last=dict(type='ChannelsLastHook'),
    cpu_threads=dict(type='CPUThreadsHook'))
