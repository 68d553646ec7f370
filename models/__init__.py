"""Model catalogue, model files and the engines behind one Protocol each."""
