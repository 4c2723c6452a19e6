"""File and input helpers shared by every layer: atomic writes
(:mod:`~aan_core.utils.atomic_io`), an output folder replaced in one step
(:mod:`~aan_core.utils.staged_folder`) under a one-writer lock
(:mod:`~aan_core.utils.output_lock`), JSON and image readers whose errors name the file
(:mod:`~aan_core.utils.json_input`, :mod:`~aan_core.utils.image_header`,
:mod:`~aan_core.utils.image_file`), and the input-error base class
(:mod:`~aan_core.utils.input_errors`: ``AANInputError``) that ``aan`` turns into one line
and exit status 2; mixed precision: modules kept in fp32 under autocast
(:mod:`~aan_core.utils.fp32_modules`) and whether the CPU has native bf16
(:mod:`~aan_core.utils.cpu_bf16`).

Import the module you need; this package imports none of them.
"""
