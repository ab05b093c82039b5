from foveal.cli import run

run()
