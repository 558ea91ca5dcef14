"""scripts/int8_latency.py times untrained candidates: its specs build the networks they name
(VGG13 x0.5 as a registered model and as the equivalent stack: the same 2,359,527 weights)."""


def test_a_stack_spec_is_the_vgg_it_spells(load_script):
    build = load_script("int8_latency").build
    registered = build("vgg13:0.5")
    stack = build("stack:32,32,M,64,64,M,128,128,M,256,256,M,256,256,M")
    assert registered.count_params() == stack.count_params() == 2_359_527
    assert tuple(stack.input_shape) == (None, 44, 44, 1)
    assert [w.shape for w in registered.weights] == [w.shape for w in stack.weights]
    # without the last stage (2x2 -> 1x1): half the weights
    assert build("stack:32,32,M,64,64,M,128,128,M,256,256,M").count_params() == 1_177_319
