"""The flag's fitting and measuring, for the profile, ood_sets and evaluate stages: the class
models and limits (`fit_profile`), clothing as a user's file reaches the model
(`clothing_files`), the non-clothing sets (`sets`, `drawn`, `bundled`) and the detection
figures (`measure`). The scoring itself is the runtime's, fmnist.ood."""
