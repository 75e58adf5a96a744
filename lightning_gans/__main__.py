from lightning_gans.cli import main

main()
