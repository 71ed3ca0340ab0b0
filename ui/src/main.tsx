import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { adminToken, setAdminToken } from './api.js';
import { FilesPage } from './pages/files.js';
import { GcPage } from './pages/gc.js';
import { ImagesPage } from './pages/images.js';
import { OverviewPage } from './pages/overview.js';
import { StoragePage } from './pages/storage.js';
import { UploadsPage } from './pages/uploads.js';
import { parseHash, REPO_PAGES, repoHref } from './routes.js';
import './style.css';

function TokenBox() {
  const [token, setToken] = useState(adminToken());
  const [draft, setDraft] = useState('');
  if (token) {
    return (
      <div class="token">
        <span class="badge ok">admin token set</span>
        <button
          type="button"
          onClick={() => {
            setAdminToken('');
            setToken('');
          }}
        >
          Forget
        </button>
      </div>
    );
  }
  return (
    <form
      class="token"
      onSubmit={(e) => {
        e.preventDefault();
        setAdminToken(draft.trim());
        setToken(draft.trim());
        setDraft('');
      }}
    >
      <input
        type="password"
        name="token"
        placeholder="admin token"
        aria-label="admin token"
        autocomplete="off"
        value={draft}
        onInput={(e) => setDraft((e.target as HTMLInputElement).value)}
      />
      <button type="submit" disabled={!draft.trim()}>
        Use
      </button>
    </form>
  );
}

function App() {
  const [route, setRoute] = useState(parseHash(location.hash));
  useEffect(() => {
    const onHash = () => setRoute(parseHash(location.hash));
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  useEffect(() => {
    document.title = route.page === 'overview' ? 'barge' : `${route.fqrn} · ${route.page} · barge`;
  }, [route]);
  return (
    <>
      <header>
        <a class="brand" href="#/">
          barge
        </a>
        {route.page !== 'overview' && (
          <>
            <span class="sep">/</span>
            <span class="repo">{route.fqrn}</span>
            <nav>
              {REPO_PAGES.map(([p, label]) => (
                <a key={p} href={repoHref(route.fqrn, p)} class={p === route.page ? 'active' : ''}>
                  {label}
                </a>
              ))}
            </nav>
          </>
        )}
        <TokenBox />
      </header>
      <main>
        {route.page === 'overview' && <OverviewPage />}
        {route.page === 'images' && <ImagesPage fqrn={route.fqrn} />}
        {route.page === 'uploads' && <UploadsPage fqrn={route.fqrn} />}
        {route.page === 'storage' && <StoragePage fqrn={route.fqrn} />}
        {route.page === 'gc' && <GcPage fqrn={route.fqrn} />}
        {route.page === 'files' && (
          <FilesPage
            fqrn={route.fqrn}
            root={route.query.get('root') ?? ''}
            path={route.query.get('path') ?? '/'}
          />
        )}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app') as HTMLElement);
