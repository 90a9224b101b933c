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


def _table_rows(text):
    """(protocol, condition, target) of the rows of the markdown target table in ``text`` (the
    table headed ``| protocol | condition | target | measured |``)."""
    lines = text.splitlines()
    start = lines.index('| protocol | condition | target | measured |') + 2
    rows = set()
    for line in lines[start:]:
        if not line.startswith('|'):
            break
        rows.add(tuple(c.strip() for c in line.strip('|').split('|')[:3]))
    return rows


def test_target_tables_match_the_declared_targets():
    from ltp_brainpy.targets import TARGETS
    declared = {(t.name, t.condition, t.target) for t in TARGETS}
    assert _table_rows(README.read_text()) == declared
    model = README.parent / 'docs' / 'model.md'
    assert _table_rows(model.read_text()) >= declared
