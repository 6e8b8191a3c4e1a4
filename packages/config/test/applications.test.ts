import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type ConfigIssue } from '../src/index.js';
import { tempDir } from './helpers.js';

let t: ReturnType<typeof tempDir>;
afterEach(() => t?.cleanup());

async function issuesOf(p: Promise<unknown>): Promise<ConfigIssue[]> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}

function load(yaml: string) {
  t = tempDir();
  t.write('app.mjs', 'export default (req, res) => res.end("hi");\n');
  return loadConfig({ root: t.dir, configFile: t.write('harperdb-config.yaml', yaml), env: {} });
}

describe('applications: valid entries', () => {
  it('resolves modules and upstreams with their defaults', async () => {
    const { config } = await load(`applications:
  - path: /app/
    module: app.mjs
  - path: /api
    upstream: https://127.0.0.1:8443/base/
    auth: optional
    stripPrefix: true
    timeout: 5000
    upstreamTls: { servername: app.internal }
    identityHeaders: { certificate: true }
  - path: /
    upstream: http://localhost:3000
    auth: none
    identityHeaders: false
`);
    expect(config.applications).toHaveLength(3);
    const [mod, api, root] = config.applications;
    expect(mod).toMatchObject({ kind: 'module', path: '/app', auth: 'required', stripPrefix: false, module: 'app.mjs', modulePath: `${t.dir}/app.mjs` });
    expect(mod!.where).toMatchObject({ key: 'applications[0]', line: 2 });
    expect(api).toMatchObject({ kind: 'upstream', path: '/api', origin: 'https://127.0.0.1:8443', basePath: '/base', auth: 'optional', stripPrefix: true, timeout: 5000, upstreamTls: { servername: 'app.internal' }, identityHeaders: { certificate: true } });
    expect(root).toMatchObject({ kind: 'upstream', path: '/', basePath: '', timeout: 60000, identityHeaders: false, auth: 'none' });
  });

  it('an entry path is kept in the form requests are matched in: unreserved escapes decoded, the others upper-cased', async () => {
    const { config } = await load('applications:\n  - path: /%7Ebob\n    module: app.mjs\n  - path: /caf%c3%a9/\n    module: app.mjs\n');
    expect(config.applications.map((a) => a.path)).toEqual(['/~bob', '/caf%C3%A9']);
  });

  it('an installed package name is kept for resolution at load', async () => {
    const { config } = await load('applications:\n  - path: /x\n    module: "@acme/app"\n');
    expect(config.applications[0]).toMatchObject({ kind: 'module', module: '@acme/app' });
    expect((config.applications[0] as { modulePath?: string }).modulePath).toBeUndefined();
  });

  it("Harper's applications object stays an ignored Harper key", async () => {
    const { config } = await load('applications:\n  lockdown: freeze\n');
    expect(config.applications).toEqual([]);
    expect(config.ignoredHarperKeys).toContain('applications');
  });
});

describe('applications: every mistake is an issue with key, file and line', () => {
  const cases: Array<[string, string, string, RegExp]> = [
    ['unknown key', '  - path: /a\n    upstream: http://127.0.0.1:1\n    stripprefix: true\n', 'applications[0].stripprefix', /did you mean "stripPrefix"/],
    ['both module and upstream', '  - path: /a\n    module: app.mjs\n    upstream: http://127.0.0.1:1\n', 'applications[0]', /both module and upstream/],
    ['neither', '  - path: /a\n    auth: none\n', 'applications[0]', /exactly one of module/],
    ['bad URL', '  - path: /a\n    upstream: ftp://x\n', 'applications[0].upstream', /http:\/\/ or https:\/\//],
    ['not a URL', '  - path: /a\n    upstream: "::nope"\n', 'applications[0].upstream', /http:\/\/ or https:\/\//],
    ['credentials in URL', '  - path: /a\n    upstream: http://u:p@h/\n', 'applications[0].upstream', /no credentials/],
    ['missing module file', '  - path: /a\n    module: ./nope.mjs\n', 'applications[0].module', /does not exist/],
    ['path without slash', '  - path: api\n    module: app.mjs\n', 'applications[0].path', /starting with "\/"/],
    ['dot segments', '  - path: /a/../b\n    module: app.mjs\n', 'applications[0].path', /"\.\."/],
    ['server path', '  - path: /ca/x\n    module: app.mjs\n', 'applications[0].path', /server's own paths/],
    ['; parameters', '  - path: /app;v=1\n    module: app.mjs\n', 'applications[0].path', /without ";" parameters/],
    ['encoded /', '  - path: /a%2fb\n    module: app.mjs\n', 'applications[0].path', /encoded "\/"/],
    ['encoded dot segment', '  - path: /a/%2e%2E/b\n    module: app.mjs\n', 'applications[0].path', /"\.\." segments, encoded or not/],
    ['server path, encoded', '  - path: /%63a\n    module: app.mjs\n', 'applications[0].path', /server's own paths/],
    ['no path', '  - module: app.mjs\n', 'applications[0]', /needs a path/],
    ['bad auth', '  - path: /a\n    module: app.mjs\n    auth: maybe\n', 'applications[0].auth', /"required", "optional", "none"/],
    ['roles without required', '  - path: /a\n    module: app.mjs\n    auth: optional\n    roles: [admin]\n', 'applications[0].roles', /roles need auth: required/],
    ['bad roles', '  - path: /a\n    module: app.mjs\n    roles: []\n', 'applications[0].roles', /non-empty list/],
    ['timeout on a module', '  - path: /a\n    module: app.mjs\n    timeout: 5\n', 'applications[0].timeout', /upstream entries only/],
    ['upstreamTls on http', '  - path: /a\n    upstream: http://127.0.0.1:1\n    upstreamTls: {servername: a.b}\n', 'applications[0].upstreamTls', /needs an https/],
    ['half a client certificate', '  - path: /a\n    upstream: https://127.0.0.1:1\n    upstreamTls: {certificate: c.pem}\n', 'applications[0].upstreamTls', /privateKey is not/],
    ['bad identityHeaders', '  - path: /a\n    upstream: http://127.0.0.1:1\n    identityHeaders: {pem: true}\n', 'applications[0].identityHeaders', /certificate: true/],
    ['bad timeout', '  - path: /a\n    upstream: http://127.0.0.1:1\n    timeout: 0\n', 'applications[0].timeout', /milliseconds/],
    ['not a list', ' 5\n', 'applications', /a list/],
  ];
  for (const [name, body, key, message] of cases) {
    it(name, async () => {
      const issues = await issuesOf(load(`# apps\napplications:${body.startsWith(' 5') ? body : `\n${body}`}`));
      const issue = issues.find((i) => i.key === key);
      expect(issue, JSON.stringify(issues)).toBeDefined();
      expect(issue!.message).toMatch(message);
      expect(issue!.file).toMatch(/harperdb-config\.yaml$/);
      expect(issue!.line).toBeGreaterThanOrEqual(2);
    });
  }

  it('two entries with the same path (trailing slash ignored): the second, naming the first', async () => {
    const issues = await issuesOf(load('applications:\n  - path: /a\n    module: app.mjs\n  - path: /a/\n    upstream: http://127.0.0.1:1\n'));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ key: 'applications[1].path', line: 4 });
    expect(issues[0]!.message).toMatch(/same path as applications\[0\]\.path \(.*harperdb-config\.yaml:2\)/);
  });
});
