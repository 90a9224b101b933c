"""The documentation site builds without warnings (``make docs``), in the tutorials' quick mode,
documents every public name, and has no broken internal link or missing figure."""
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

pytest.importorskip('sphinx', reason="the docs extra is not installed (pip install -e '.[docs]')")
pytest.importorskip('myst_nb', reason="the docs extra is not installed (pip install -e '.[docs]')")
pytest.importorskip('sphinx_book_theme',
                    reason="the docs extra is not installed (pip install -e '.[docs]')")

import ltp_brainpy  # noqa: E402

DOCS = Path(__file__).resolve().parents[1] / 'docs'


class _Page(HTMLParser):
    """The ids of an HTML page and the links (href, src) it contains."""

    def __init__(self):
        super().__init__()
        self.ids, self.links = set(), []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get('id'):
            self.ids.add(attrs['id'])
        if tag == 'a' and attrs.get('name'):
            self.ids.add(attrs['name'])
        for key in ('href', 'src'):
            if attrs.get(key) and not (tag == 'link' and key == 'href'
                                       and attrs.get('rel') in ('preconnect', 'dns-prefetch')):
                self.links.append(attrs[key])


def _parse(path):
    page = _Page()
    page.feed(path.read_text(encoding='utf-8'))
    return page


@pytest.fixture(scope='module')
def build(tmp_path_factory):
    """Build the site once into a temporary folder, as `make docs` does (warnings are errors;
    --keep-going still writes every page, so the other checks can read them)."""
    out = tmp_path_factory.mktemp('docs') / 'html'
    env = dict(os.environ, LTP_TUTORIAL_QUICK='1')
    env.pop('MPLBACKEND', None)  # the notebook kernels use their inline backend
    proc = subprocess.run([sys.executable, '-m', 'sphinx', '-W', '--keep-going', '-q', '-b', 'html',
                           str(DOCS), str(out)], env=env, capture_output=True, text=True,
                          timeout=1800)
    assert (out / 'index.html').exists(), f'sphinx-build wrote no site:\n{proc.stderr[-8000:]}'
    return out, proc


@pytest.fixture(scope='module')
def site(build):
    return build[0]


@pytest.mark.slow
def test_site_builds_without_warnings(build):
    _, proc = build
    # The notebook kernels' own log lines ([IPKernelApp] ...) are not Sphinx warnings.
    warnings = [line for line in proc.stderr.splitlines()
                if ('WARNING' in line or 'ERROR' in line) and '[IPKernelApp]' not in line]
    assert proc.returncode == 0 and not warnings, (
        'sphinx-build -W failed:\n' + ('\n'.join(warnings) or proc.stderr[-8000:]))


@pytest.mark.slow
def test_every_public_name_has_an_api_page(site):
    anchors = set()
    for page in (site / 'api').glob('*.html'):
        anchors |= _parse(page).ids
    anchors |= _parse(site / 'api.html').ids
    missing = [name for name in ltp_brainpy.__all__
               if not (site / 'api' / f'ltp_brainpy.{name}.html').exists()
               and f'ltp_brainpy.{name}' not in anchors
               and f'module-ltp_brainpy.{name}' not in anchors]
    assert not missing, f'no API page or anchor for: {missing}'


@pytest.mark.slow
def test_every_public_module_has_an_api_page(site):
    package = Path(ltp_brainpy.__file__).parent
    modules = [p.stem for p in package.glob('*.py') if not p.stem.startswith('_')]
    missing = [m for m in modules if not (site / 'api' / f'ltp_brainpy.{m}.html').exists()]
    assert not missing, f'modules missing from docs/api.md: {missing}'


@pytest.mark.slow
def test_internal_links_resolve(site):
    # _static/ holds the theme's template fragments, not pages.
    pages = {path: _parse(path) for path in site.rglob('*.html')
             if '_static' not in path.relative_to(site).parts}
    broken = []
    for path, page in pages.items():
        for link in page.links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith(('javascript:', 'data:')):
                continue
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            if not target.exists():
                broken.append(f'{path.relative_to(site)}: {link}')
                continue
            if parts.fragment and target.suffix == '.html':
                ids = pages[target].ids if target in pages else _parse(target).ids
                if unquote(parts.fragment) not in ids:
                    broken.append(f'{path.relative_to(site)}: {link} (no such anchor)')
    assert not broken, 'broken internal links:\n' + '\n'.join(sorted(broken))


@pytest.mark.slow
def test_figures_are_in_the_site(site):
    referenced = set()
    for page in DOCS.glob('*.md'):
        referenced |= set(re.findall(r'\]\((?:\./)?figures/([^)\s]+)\)', page.read_text()))
    assert referenced, 'no figure found in docs/*.md'
    images = {p.name for p in (site / '_images').iterdir()}
    assert not referenced - images, f'figures missing from the site: {referenced - images}'
    # Every tutorial page shows the figures its code draws.
    for page in (site / 'tutorials').glob('*.html'):
        assert any(link.endswith('.png') for link in _parse(page).links), page.name
