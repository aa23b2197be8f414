"""Training engines (MAE pretraining; fine-tuning lands with the clinical heads) and checkpoints."""
