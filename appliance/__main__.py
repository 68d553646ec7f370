from appliance.cli.main import app

app()
