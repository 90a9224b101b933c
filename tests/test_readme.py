"""The README's Python examples run as written."""
import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[1] / 'README.md'


def test_readme_python_blocks_run():
    blocks = re.findall(r'```python\n(.*?)```', README.read_text(), re.S)
    assert blocks
    for block in blocks:
        namespace = {}
        exec(compile(block, str(README), 'exec'), namespace)
    w = namespace['w']
    assert w.shape == (20_000,) and float(w[-1] / w[0]) > 1.2  # pairing potentiated
