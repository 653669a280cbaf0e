"""Mutations of the ONNX importer (eiesim/importers/onnx/ops/, eiesim/importers/onnx/fold.py; what it accepts in docs/onnx.md)."""

_FILE = "tests/test_onnx_attributes.py::"

MUTATIONS = [
    {
        "id": "gemm_alpha_ignored",
        "file": "eiesim/importers/onnx/ops/layers.py",
        "old": 'w = w * np.float32(at.get("alpha", 1.0))',
        "new": "w = w",
        "tests": [_FILE + "test_gemm_alpha_beta_trans_b_match_onnxruntime"],
        "why": "Gemm computes alpha * A B' + beta * C: the weight must be scaled by alpha",
    },
    {
        "id": "gemm_beta_ignored",
        "file": "eiesim/importers/onnx/ops/layers.py",
        "old": ' * np.float32(at.get("beta", 1.0))',
        "new": "",
        "tests": [_FILE + "test_gemm_alpha_beta_trans_b_match_onnxruntime"],
        "why": "Gemm computes alpha * A B' + beta * C: the bias must be scaled by beta",
    },
    {
        "id": "relu_after_avg_pool_folded",
        "file": "eiesim/importers/onnx/ops/folded.py",
        "old": 'if layer.pool is not None and layer.pool.kind != "max":',
        "new": "if False:",
        "tests": [_FILE + "test_relu_after_an_average_pool_is_refused"],
        "why": "ReLU does not commute with averaging: relu(avg(x)) != avg(relu(x)), so it must be refused",
    },
    {
        "id": "pool_always_ceil_mode",
        "file": "eiesim/importers/onnx/ops/folded.py",
        "old": 'ceil_mode = bool(int(at.get("ceil_mode", 0)))',
        "new": "ceil_mode = True",
        "tests": [_FILE + "test_pool_ceil_mode_matches_onnxruntime"],
        "why": "ONNX pools default to floor mode; ceil mode adds a last, clipped window",
    },
    {
        "id": "grouped_conv_on_first_channels",
        "file": "eiesim/importers/onnx/ops/layers.py",
        "old": "g * in_per_group:(g + 1) * in_per_group]",
        "new": "0:in_per_group]",
        "tests": [_FILE + "test_grouped_strided_conv_matches_onnxruntime"],
        "why": "group g of a grouped conv reads input channels g*C/G .. (g+1)*C/G - 1, not the first C/G",
    },
    {
        "id": "add_bias_replaces_layer_bias",
        "file": "eiesim/importers/onnx/ops/folded.py",
        "old": "layer.bias = (layer.bias + b).astype(np.float32)",
        "new": "layer.bias = b.astype(np.float32)",
        "tests": [_FILE + "test_add_after_a_biased_conv_adds_to_its_bias",
                  _FILE + "test_add_after_a_gemm_with_beta_and_c_adds_to_its_bias"],
        "why": "an Add after a Conv / Gemm that already has a bias adds to that bias",
    },
    {
        "id": "dropout_training_mode_accepted",
        "file": "eiesim/importers/onnx/ops/plumbing.py",
        "old": "and bool(walker.consts[node.input[2]]):",
        "new": "and False:",
        "tests": [_FILE + "test_dropout_in_training_mode_is_refused"],
        "why": "Dropout with training_mode = 1 drops values at random; eiesim can only treat inference Dropout",
    },
    {
        "id": "dropout_training_mode_folded",
        "file": "eiesim/importers/onnx/fold.py",
        "old": 'if node.op_type == "Dropout" and len(x) > 2 and x[2] is not None and np.any(x[2]):',
        "new": "if False:",
        "tests": [_FILE + "test_dropout_in_training_mode_on_a_constant_weight_is_refused"],
        "why": "folding a training-mode Dropout of a constant zeroes weights at random (a different import every run)",
    },
]
