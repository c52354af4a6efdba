"""The Titans language model of models/ (TypeScript, TensorFlow.js) as an exact PyTorch twin.

Same config fields, parameter names and tensor layout ([in, out] matrices used as x @ W), so a
checkpoint moves between the two without conversion. See train/torch/README.md.
"""
