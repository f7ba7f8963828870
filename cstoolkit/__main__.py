from cstoolkit.cli import main

main()
