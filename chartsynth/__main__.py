from chartsynth.cli import app

app()
