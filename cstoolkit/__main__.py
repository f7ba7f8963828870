from cstoolkit.ops.lifeline import watch

watch()  # a step of `cst run` ends with its run (no-op otherwise)

from cstoolkit.cli import main  # noqa: E402

main()
