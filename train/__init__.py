# Training outside the app: train/torch/ is the PyTorch twin of the TypeScript model (models/).
