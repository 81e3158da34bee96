"""The lessons as plain data: each network's names, weights and inputs, and
the words that go with it. Nothing here computes anything: the numbers a
lesson shows come from the engine's teaching view (see ``compute.py``).

Weights are written the course's way, per node: ``(2, 4)`` for node_0 means
the weight from the first input is 2 and from the second is 4. A layer's
Keras kernel (n_in, n_out) is the transpose of its list of per-node weights.
"""

from __future__ import annotations

from dataclasses import dataclass

INPUTS = ("accounts", "children")


@dataclass(frozen=True)
class Net:
    """A small network with no biases.

    ``layers[k]`` names the nodes of layer k (the last is the output layer);
    ``weights[k][j]`` are node j's incoming weights, one per node of the
    previous layer; ``activations[k]`` is "linear" (identity) or "relu".
    """

    inputs: tuple[str, ...]
    layers: tuple[tuple[str, ...], ...]
    weights: tuple[tuple[tuple[float, ...], ...], ...]
    activations: tuple[str, ...]
    x: tuple[float, ...]


@dataclass(frozen=True)
class Part:
    """One page of a lesson: its network, its target (if any) and its text."""

    title: str
    net: Net
    text: str
    target: float | None = None
    rows: tuple[tuple[float, ...], ...] = ()
    targets: tuple[float, ...] = ()
    #: the weights this part compares with (lesson d), per layer and node
    baseline: tuple[tuple[tuple[float, ...], ...], ...] | None = None
    baseline_name: str = ""


@dataclass(frozen=True)
class Lesson:
    key: str
    letter: str
    title: str
    summary: str
    parts: tuple[Part, ...]
    learning_rate: float = 0.01
    steps: int = 0
    #: the learning rate "try it yourself" gives the trainer (SGD): 0.001 for
    #: lessons a-c, whose errors on the customers data start in the hundreds
    #: (at 0.01 lesson a diverges and lesson b's output ReLU dies)
    trainer_learning_rate: float = 0.01


def _two_layer(hidden, output, activations, x, hidden_names=("node_0", "node_1")):
    return Net(INPUTS, (tuple(hidden_names), ("output",)), (tuple(hidden), (tuple(output),)),
               tuple(activations), tuple(x))


FORWARD = Lesson(
    key="forward", letter="a", title="Forward propagation",
    summary="How a network turns inputs into a prediction.",
    parts=(Part(
        title="Forward propagation",
        net=_two_layer([(2, 4), (4, -5)], (2, 7), ("linear", "linear"), (3, 5)),
        text=(
            "A bank wants to predict how many transactions a customer makes from two facts: "
            "how many accounts they hold and how many children they have.\n\n"
            "Each hidden node multiplies every input by the weight on its edge and adds the "
            "products up: that sum is the node's value. The output node does the same with "
            "the hidden values. Information only moves forward, left to right.\n\n"
            "Press [b]a[/] to put the hidden layer through ReLU (negative sums become 0) and "
            "watch the prediction change."),
    ),),
    trainer_learning_rate=0.001,
)

MANY_ROWS = Lesson(
    key="many_rows", letter="b", title="Many rows",
    summary="The same network applied to every row of a table.",
    parts=(Part(
        title="Many rows",
        net=_two_layer([(2, 4), (4, -5)], (2, 7), ("relu", "relu"), (3, 5)),
        rows=((3, 5), (1, -1), (0, 0), (8, 4)),
        text=(
            "A network computes one row at a time with the same weights. Here every node, "
            "hidden and output, applies ReLU. Pick a row in the table to draw its numbers "
            "on the network; editing an input changes that row."),
    ),),
    trainer_learning_rate=0.001,
)

DEEPER = Lesson(
    key="deeper", letter="c", title="A deeper network",
    summary="Two hidden layers: each layer feeds the next.",
    parts=(Part(
        title="A deeper network",
        net=Net(INPUTS,
                (("node_0_0", "node_0_1"), ("node_1_0", "node_1_1"), ("output",)),
                (((2, 4), (4, -5)), ((-1, 2), (1, 2)), ((2, 7),)),
                ("relu", "relu", "linear"), (3, 5)),
        text=(
            "A second hidden layer takes the first hidden layer's values as its inputs. "
            "Each extra layer can build on what the one before it found, which is how deep "
            "networks learn richer patterns. Both hidden layers use ReLU; the output is the "
            "plain weighted sum."),
    ),),
    trainer_learning_rate=0.001,
)

_W0 = ((2, 1), (1, 2)), (1, 1)        # weights_0: hidden nodes, output node
_W1 = ((2, 1), (1, 1.5)), (1, 1.5)     # weights_1
_POINTS = ((0, 3), (1, 2), (-1, -2), (4, 0))

ERRORS = Lesson(
    key="errors", letter="d", title="Errors",
    summary="How far the prediction is from the truth, and how weights move it.",
    parts=(
        Part(
            title="1 · The error",
            net=_two_layer([(2, 1), (0, 0)], (2, 2), ("relu", "relu"), (3, 2)),
            target=5,
            text=(
                "The error is the prediction minus the target, the true value we wanted. "
                "A positive error means the network guessed too high. ReLU throughout this "
                "lesson."),
        ),
        Part(
            title="2 · A small change",
            net=_two_layer([(2, 1), (0, 0)], (2.01, 2), ("relu", "relu"), (3, 2)),
            target=7,
            baseline=(((2, 1), (0, 0)), ((2, 2),)),
            baseline_name="weight 2",
            text=(
                "Nudge one weight, here the one from node_0 to the output from 2 to 2.01, and "
                "the prediction and the error move with it. How much the error moves for a "
                "small nudge is that weight's slope."),
        ),
        Part(
            title="3 · Make it exact",
            net=_two_layer(*_W0, ("relu", "relu"), (0, 3)),
            target=3,
            baseline=(_W0[0], (_W0[1],)),
            baseline_name="weights_0",
            text=(
                "weights_0 predicts 9 for a target of 3. Change one weight of your copy so "
                "that the prediction is exact, i.e. the error is 0."),
        ),
        Part(
            title="4 · Mean squared error",
            net=_two_layer(*_W1, ("relu", "relu"), (0, 3)),
            rows=_POINTS,
            targets=(1, 3, 5, 7),
            baseline=(_W0[0], (_W0[1],)),
            baseline_name="weights_0",
            text=(
                "Over many rows one number sums up a model: the mean of the squared errors. "
                "Squaring makes every error count as positive and big errors count a lot. "
                "The drawing holds weights_1; the lower MSE wins."),
        ),
    ),
)

GRADIENT_DESCENT = Lesson(
    key="gradient_descent", letter="e", title="Gradient descent",
    summary="Slopes tell each weight which way to move.",
    parts=(Part(
        title="Gradient descent",
        net=Net(("x0", "x1", "x2"), (("output",),), (((0, 2, 1),),), ("linear",), (1, 2, 3)),
        target=0,
        text=(
            "The loss here is the squared error. Its slope for a weight is 2 × input × "
            "error: it says how fast the loss grows as that weight grows. Gradient descent "
            "moves every weight a small step against its slope: new weight = weight - "
            "learning rate × slope. Repeat, and the error shrinks."),
    ),),
    learning_rate=0.01,
    steps=20,
)

BACKPROP = Lesson(
    key="backprop", letter="f", title="Backpropagation",
    summary="Slopes flow backwards from the error into every weight.",
    parts=(Part(
        title="Backpropagation",
        net=_two_layer([(1, 1), (1, -1)], (2, -1), ("relu", "linear"), (1, 2)),
        target=4,
        text=(
            "After a forward pass, go backwards one node at a time. A node's slope is how "
            "much the loss moves when its value moves. A weight's gradient is the value at "
            "the node the edge leaves × the slope at the node it enters × the activation's "
            "slope there (ReLU: 1 if the sum was positive, else 0)."),
    ),),
    learning_rate=0.01,
)

LESSONS: tuple[Lesson, ...] = (FORWARD, MANY_ROWS, DEEPER, ERRORS, GRADIENT_DESCENT, BACKPROP)


def lesson(key: str) -> Lesson:
    for item in LESSONS:
        if item.key == key:
            return item
    raise KeyError(f"no lesson {key!r}; lessons: {', '.join(item.key for item in LESSONS)}")
