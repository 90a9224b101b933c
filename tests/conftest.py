import brainstate
import pytest
import saiunit as u


@pytest.fixture
def dt():
    """Default time step, set in brainstate's environment for the test."""
    step = 0.1 * u.ms
    with brainstate.environ.context(dt=step):
        yield step
