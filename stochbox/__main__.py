from stochbox.cli import main

main()
