/**
 * The shell: the token prompt until a token is known, then the pages under a header. Hash routing (#/dags/…)
 * so that any static server, the Lambda Function URL included, serves every page from index.html.
 */
import { useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { createHashRouter, NavLink, Outlet, RouterProvider, type RouteObject } from 'react-router';
import { ThemeToggle, useTheme } from './components/theme-toggle.tsx';
import { AssetDetails } from './pages/asset-details.tsx';
import { AssetGraph } from './pages/asset-graph.tsx';
import { Assets } from './pages/assets.tsx';
import { Backfills } from './pages/backfills.tsx';
import { DagList } from './pages/dag-list.tsx';
import { DagPage } from './pages/dag-page.tsx';
import { GridPanel } from './pages/grid-panel.tsx';
import { GraphPanel } from './pages/graph-panel.tsx';
import { HitlRequests, PendingHitlCount } from './pages/hitl.tsx';
import { ImportErrors } from './pages/import-errors.tsx';
import { Pools } from './pages/pools.tsx';
import { Variables } from './pages/variables.tsx';
import { Connections } from './pages/connections.tsx';
import { RunDetails } from './pages/run-details.tsx';
import { TaskInstanceDetails } from './pages/task-instance-details.tsx';
import { TokenPrompt } from './pages/token-prompt.tsx';
import { TriggerForm } from './pages/trigger-form.tsx';
import { CodeView } from './pages/code-view.tsx';
import { VersionDiff } from './pages/version-diff.tsx';
import { VersionsPage } from './pages/versions-page.tsx';
import { getToken, onTokenChange, setToken } from './token.ts';

function Layout() {
  return (
    <>
      <header className="top-bar">
        <NavLink to="/" className="brand">
          airless
        </NavLink>
        <nav aria-label="Main">
          <NavLink to="/" end data-testid="nav-dags">
            DAGs
          </NavLink>
          <NavLink to="/assets" data-testid="nav-assets">
            Assets
          </NavLink>
          <NavLink to="/import-errors" data-testid="nav-import-errors">
            Import errors
          </NavLink>
          <NavLink to="/pools" data-testid="nav-pools">
            Pools
          </NavLink>
          <NavLink to="/variables" data-testid="nav-variables">
            Variables
          </NavLink>
          <NavLink to="/connections" data-testid="nav-connections">
            Connections
          </NavLink>
          <NavLink to="/requests" data-testid="nav-requests">
            Requests <PendingHitlCount />
          </NavLink>
        </nav>
        <ThemeToggle />
        <button type="button" className="link-button" onClick={() => setToken(null)} data-testid="sign-out">
          Forget token
        </button>
      </header>
      <main>
        <Outlet />
      </main>
    </>
  );
}

/** The side panel beside the grid or the graph: trigger form, run details, task instance details. */
function detailRoutes(): RouteObject[] {
  return [
    { index: true, element: null },
    { path: 'trigger', element: <TriggerForm /> },
    { path: 'runs/:runId', element: <RunDetails /> },
    { path: 'runs/:runId/tasks/:taskId/:mapIndex', element: <TaskInstanceDetails /> },
  ];
}

const router = createHashRouter([
  {
    path: '/',
    element: <Layout />,
    children: [
      { index: true, element: <DagList /> },
      { path: 'import-errors', element: <ImportErrors /> },
      { path: 'assets', element: <Assets /> },
      { path: 'assets/graph', element: <AssetGraph /> },
      { path: 'assets/:assetId', element: <AssetDetails /> },
      { path: 'pools', element: <Pools /> },
      { path: 'variables', element: <Variables /> },
      { path: 'connections', element: <Connections /> },
      { path: 'requests', element: <HitlRequests /> },
      {
        path: 'dags/:dagId',
        element: <DagPage />,
        children: [
          { element: <GridPanel />, children: detailRoutes() },
          { path: 'graph', element: <GraphPanel />, children: detailRoutes() },
          { path: 'backfills', element: <Backfills /> },
          { path: 'versions', element: <VersionsPage /> },
          { path: 'versions/diff', element: <VersionDiff /> },
          { path: 'versions/:version', element: <CodeView /> },
        ],
      },
    ],
  },
]);

export function App() {
  const [token, setTokenState] = useState(getToken);
  const queryClient = useQueryClient();
  // Applies the theme on every page, the token prompt included (the toggle is in the top bar).
  useTheme();
  useEffect(
    () =>
      onTokenChange((next) => {
        setTokenState(next);
        if (next === null) queryClient.clear();
      }),
    [queryClient],
  );
  if (token === null) return <TokenPrompt />;
  return <RouterProvider router={router} />;
}
