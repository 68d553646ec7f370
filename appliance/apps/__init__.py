"""The app catalogue: declarative apps (YAML), their policy, prompts, storage and runs."""
