"""Optimizers with Keras 3's update rules and defaults.

Each optimizer keeps its state per variable, indexed like the variable list
it was built for, and updates the variables in place. ``iterations`` counts
the steps taken, as Keras' ``optimizer.iterations`` does (Adam's bias
correction uses it).
"""

from __future__ import annotations

import math

import numpy as np

from . import kernels
from .numerics import flush_below

#: An update is a dozen NumPy passes over the variable. A long flat variable is
#: updated block by block, so that the dozen passes over one block stay in the CPU's
#: cache instead of each going through memory: on 784-512-512-10 (669k weights) the
#: optimizer's share of a batch fell by about a third (bench/run.py). 2**16 elements
#: (the five arrays of a block fit in a 2 MB L2) made a batch 3-5% faster than 2**14
#: in epochs interleaved in one process, fewer calls for the same cache behaviour.
#: Splitting the blocks between two threads did not help: every call hands Python's
#: lock back and forth, and the BLAS threads already use both cores for the products.
BLOCK = 1 << 16
#: ... from this length on (smaller models gain nothing and pay the extra calls).
BLOCKED_MIN = 1 << 17


#: Every this many steps, optimizer state below 2**FLUSH_POWER in size is set to zero.
#: A weight whose gradient stays at zero (a dead ReLU unit) sees Adam's ``m`` shrink by
#: beta_1 each step towards the subnormal range, where every float operation on it
#: takes a slow microcode path (MNIST-shaped training became 3x slower per epoch from
#: its fourth epoch on; see engine.numerics). Flushing well above that range, often
#: enough that nothing can decay into it in between, keeps every step fast; a moment
#: of 2**-100 moves a weight by less than 1e-20 per step.
FLUSH_EVERY = 32
FLUSH_POWER = -100


class Optimizer:
    name = ""
    slots: tuple[str, ...] = ()

    def __init__(self, learning_rate: float, variables: list[np.ndarray]) -> None:
        self.learning_rate = float(learning_rate)
        self.iterations = 0
        self.state = {slot: [self._initial(slot, v) for v in variables] for slot in self.slots}

    def _initial(self, slot: str, variable: np.ndarray) -> np.ndarray:
        return np.zeros_like(variable)

    def apply(self, variables: list[np.ndarray], grads: list[np.ndarray], fused=None) -> None:
        """One step: update every variable in place from its gradient.

        The gradient arrays serve as scratch space and are overwritten. Long flat
        variables are updated in blocks of BLOCK elements: the same arithmetic,
        element by element, so the result does not depend on the blocking.
        ``fused``: the kernels to use (engine.kernels.get() when not given)."""
        # from kernels.FUSED_MIN elements on, a fused kernel: one pass instead of a dozen
        if fused is None:
            fused = kernels.get() if any(v.size >= kernels.FUSED_MIN for v in variables) else None
        for i, (var, grad) in enumerate(zip(variables, grads)):
            if (fused is not None and var.size >= kernels.FUSED_MIN and var.flags.c_contiguous
                    and grad.flags.c_contiguous
                    and kernels.call(fused, *self.kernel_call(i, var.reshape(-1),
                                                              grad.reshape(-1), var.dtype.type))):
                continue
            if var.ndim != 1 or var.size < max(BLOCKED_MIN, 2 * BLOCK):
                self.update(i, var, grad)
                continue
            for start in range(0, var.size, BLOCK):
                part = slice(start, start + BLOCK)
                self.update(i, var[part], grad[part], part)
        self.iterations += 1
        if self.iterations % FLUSH_EVERY == 0:
            for arrays in self.state.values():
                for array in arrays:
                    flush_below(array, FLUSH_POWER)

    def update(self, i: int, var: np.ndarray, grad: np.ndarray, part: slice = slice(None)) -> None:
        """Update ``var`` (variable ``i``, or its elements ``part``) from ``grad``."""
        raise NotImplementedError

    def kernel_call(self, i: int, var: np.ndarray, grad: np.ndarray, scalar) -> tuple:
        """``(name, *arguments)`` of the engine.kernels kernel that does ``update`` in
        one pass with the same float operations; ``scalar`` makes a Python number the
        variable's dtype, as NumPy does with a Python number in an array operation."""
        raise NotImplementedError

    # -- state, for save/load and for divergence roll-back -----------------

    def get_state(self, into: dict | None = None) -> dict:
        """A copy of the state; ``into``: an earlier copy to write this one over (no new
        arrays: what a fit's epoch-start snapshot takes every epoch)."""
        if into is None:
            return {
                "iterations": self.iterations,
                "slots": {slot: [a.copy() for a in arrays] for slot, arrays in self.state.items()},
            }
        into["iterations"] = self.iterations
        for slot, arrays in self.state.items():
            for target, source in zip(into["slots"][slot], arrays):
                np.copyto(target, source)
        return into

    def set_state(self, state: dict) -> None:
        self.iterations = int(state["iterations"])
        for slot, arrays in state["slots"].items():
            for target, source in zip(self.state[slot], arrays):
                target[...] = source


class SGD(Optimizer):
    """``m = momentum*m - lr*g``; ``w += m`` (nesterov: ``w += momentum*m - lr*g``);
    plain ``w -= lr*g`` without momentum."""

    name = "sgd"

    def __init__(self, learning_rate, variables, momentum=0.0, nesterov=False):
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.slots = ("momentum",) if self.momentum != 0 else ()
        super().__init__(learning_rate, variables)

    def update(self, i, var, grad, part=slice(None)):
        grad *= self.learning_rate  # grad is scratch from here on: it holds lr*g
        if self.momentum == 0:
            var -= grad
            return
        m = self.state["momentum"][i][part]
        m *= self.momentum
        m -= grad
        if self.nesterov:
            var += self.momentum * m - grad
        else:
            var += m

    def kernel_call(self, i, var, grad, scalar):
        if self.momentum == 0:
            return "sgd", var, grad, scalar(self.learning_rate)
        return ("momentum", var, grad, self.state["momentum"][i].reshape(-1),
                scalar(self.learning_rate), scalar(self.momentum), self.nesterov)


class Adam(Optimizer):
    """Keras' Adam with the epsilon-hat form:
    ``alpha = lr*sqrt(1-beta_2^t)/(1-beta_1^t)``; ``w -= alpha*m/(sqrt(v)+epsilon)``."""

    name = "adam"
    slots = ("m", "v")

    def __init__(self, learning_rate, variables, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        super().__init__(learning_rate, variables)
        self._buffers = [np.empty_like(v) for v in variables]

    def apply(self, variables, grads, fused=None):
        t = self.iterations + 1
        # a Python float, so float32 variables are not promoted to float64
        self._alpha = self.learning_rate * math.sqrt(1 - self.beta_2**t) / (1 - self.beta_1**t)
        super().apply(variables, grads, fused)

    def update(self, i, var, grad, part=slice(None)):
        m, v, buf = self.state["m"][i][part], self.state["v"][i][part], self._buffers[i][part]
        # v += (g*g - v) * (1 - beta_2)
        np.multiply(grad, grad, out=buf)
        buf -= v
        buf *= 1 - self.beta_2
        v += buf
        # m += (g - m) * (1 - beta_1); grad is scratch from here on
        grad -= m
        grad *= 1 - self.beta_1
        m += grad
        # w -= (m * alpha) / (sqrt(v) + epsilon)
        np.sqrt(v, out=buf)
        buf += self.epsilon
        np.multiply(m, self._alpha, out=grad)
        grad /= buf
        var -= grad

    def kernel_call(self, i, var, grad, scalar):
        return ("adam", var, grad, self.state["m"][i].reshape(-1), self.state["v"][i].reshape(-1),
                scalar(self._alpha), scalar(1 - self.beta_1), scalar(1 - self.beta_2),
                scalar(self.epsilon))


class RMSprop(Optimizer):
    """``v = rho*v + (1-rho)*g^2``; ``w -= lr*g/sqrt(v+epsilon)``."""

    name = "rmsprop"
    slots = ("velocity",)

    def __init__(self, learning_rate, variables, rho=0.9, epsilon=1e-7):
        self.rho, self.epsilon = rho, epsilon
        super().__init__(learning_rate, variables)
        self._buffers = [np.empty_like(v) for v in variables]

    def update(self, i, var, grad, part=slice(None)):
        v, buf = self.state["velocity"][i][part], self._buffers[i][part]
        v *= self.rho
        np.multiply(grad, grad, out=buf)
        buf *= 1 - self.rho
        v += buf
        np.add(v, self.epsilon, out=buf)
        np.sqrt(buf, out=buf)
        grad *= self.learning_rate
        grad /= buf
        var -= grad

    def kernel_call(self, i, var, grad, scalar):
        return ("rmsprop", var, grad, self.state["velocity"][i].reshape(-1),
                scalar(self.learning_rate), scalar(self.rho), scalar(1 - self.rho),
                scalar(self.epsilon))


class Adagrad(Optimizer):
    """``acc += g^2`` (starting at 0.1); ``w -= lr*g/sqrt(acc+epsilon)``."""

    name = "adagrad"
    slots = ("accumulator",)

    def __init__(self, learning_rate, variables, initial_accumulator_value=0.1, epsilon=1e-7):
        self.initial_accumulator_value, self.epsilon = initial_accumulator_value, epsilon
        super().__init__(learning_rate, variables)
        self._buffers = [np.empty_like(v) for v in variables]

    def _initial(self, slot, variable):
        return np.full_like(variable, self.initial_accumulator_value)

    def update(self, i, var, grad, part=slice(None)):
        acc, buf = self.state["accumulator"][i][part], self._buffers[i][part]
        np.multiply(grad, grad, out=buf)
        acc += buf
        np.add(acc, self.epsilon, out=buf)
        np.sqrt(buf, out=buf)
        grad *= self.learning_rate
        grad /= buf
        var -= grad

    def kernel_call(self, i, var, grad, scalar):
        return ("adagrad", var, grad, self.state["accumulator"][i].reshape(-1),
                scalar(self.learning_rate), scalar(self.epsilon))


def make_optimizer(spec, variables: list[np.ndarray]) -> Optimizer:
    lr = spec.effective_learning_rate
    if spec.optimizer == "sgd":
        return SGD(lr, variables, momentum=spec.momentum, nesterov=spec.nesterov)
    return {"adam": Adam, "rmsprop": RMSprop, "adagrad": Adagrad}[spec.optimizer](lr, variables)
