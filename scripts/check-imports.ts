// The import rule of src/ (docs/architecture.md, "Rooms"): a component imports only the shared
// vocabulary and its own files; the wiring room (src/app) imports components; the command line
// (src/cli) imports the wiring room and the shared vocabulary, never a component. And no two files of src/ import each other in a circle, type-only
// imports included: a circle of types is still two files that cannot be read one without the other.
// Run by `npm run check`; prints file:line for each problem and exits 1 if there is one.
import { posix } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot, trackedFiles } from './tracked-files.ts';

export interface SourceFile {
  path: string; // relative to the repository root, '/' separated
  text: string;
}

export interface Problem {
  path: string;
  line: number;
  message: string;
}

/** Imported by everyone, import only each other. */
export const SHARED = ['protocol', 'contracts', 'log'] as const;
/** Each imports only the shared vocabulary and itself. */
export const COMPONENTS = ['broker', 'platform', 'gateway', 'access', 'sim', 'web'] as const;
/** Imports components (and the shared vocabulary); imported only by the command line. */
export const WIRING = 'app';
/** The outermost room: imports the wiring room and the shared vocabulary, imported by nothing but itself (and bin/). */
export const COMMAND_LINE = 'cli';

/** The room of a file under src/: its first folder, or its name for a file at the top (`src/log.ts`). */
export function roomOf(path: string): string | undefined {
  const m = /^src\/([^/]+?)(?:\.ts|\/.*)$/.exec(path);
  return m?.[1];
}

function mayImport(from: string, to: string): boolean {
  if (from === to) return true;
  const shared = (SHARED as readonly string[]).includes(to);
  if ((SHARED as readonly string[]).includes(from)) return shared;
  if ((COMPONENTS as readonly string[]).includes(from)) return shared;
  if (from === WIRING) return to !== COMMAND_LINE;
  if (from === COMMAND_LINE) return shared || to === WIRING;
  return false;
}

const KNOWN_ROOMS = new Set<string>([...SHARED, ...COMPONENTS, WIRING, COMMAND_LINE]);

// `import … from '…'`, `export … from '…'`, `import '…'`, `import('…')`; comments are not code,
// so lines starting with // or * are skipped before matching.
const IMPORT =
  /(?:^|[\s;])(?:import|export)\s(?:[^'"`;]*?\sfrom\s*)?(['"])(\.{1,2}\/[^'"]+)\1|\bimport\(\s*(['"])(\.{1,2}\/[^'"]+)\3\s*\)/g;

interface Edge {
  from: string;
  to: string;
  line: number;
}

function importsOf(file: SourceFile): Edge[] {
  const edges: Edge[] = [];
  const dir = posix.dirname(file.path);
  // import clauses may span lines: match on the whole text, then count the lines before the match
  const code = file.text.replace(/^\s*(\/\/|\*|\/\*).*$/gm, (line) => ' '.repeat(line.length));
  for (const m of code.matchAll(IMPORT)) {
    const spec = m[2] ?? m[4]!;
    const to = posix.normalize(posix.join(dir, spec));
    const line = code.slice(0, m.index + m[0].length).split('\n').length;
    edges.push({ from: file.path, to, line });
  }
  return edges;
}

/** Every breach of the rule and every circle among the given files; pure, so it can be tested without git. */
export function findProblems(files: readonly SourceFile[]): Problem[] {
  const problems: Problem[] = [];
  const sources = files.filter((f) => f.path.startsWith('src/') && /\.[cm]?ts$/.test(f.path));
  const graph = new Map<string, Edge[]>();
  for (const file of sources) {
    const from = roomOf(file.path)!;
    if (!KNOWN_ROOMS.has(from)) {
      problems.push({ path: file.path, line: 1, message: `room '${from}' is not in the import rule` });
    }
    const edges = importsOf(file);
    graph.set(file.path, edges);
    for (const e of edges) {
      const to = roomOf(e.to);
      if (to === undefined) continue; // outside src/ (e.g. package.json): not a room
      if (KNOWN_ROOMS.has(from) && !mayImport(from, to))
        problems.push({ path: e.from, line: e.line, message: `${from} may not import ${to} (${e.to})` });
    }
  }
  for (const circle of circles(graph)) {
    const first = circle[0]!;
    const edge = graph.get(first)!.find((e) => circle.includes(e.to))!;
    problems.push({
      path: first,
      line: edge.line,
      message: `import circle: ${[...circle, first].join(' → ')}`,
    });
  }
  return problems;
}

/** The strongly connected parts of more than one file (or a file importing itself), each as a path round it. */
function circles(graph: Map<string, Edge[]>): string[][] {
  // Tarjan's algorithm, iterative so a deep import chain cannot overflow the stack
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const found: string[][] = [];
  let next = 0;
  for (const root of graph.keys()) {
    if (index.has(root)) continue;
    const work: { node: string; edge: number }[] = [{ node: root, edge: 0 }];
    index.set(root, next);
    low.set(root, next++);
    stack.push(root);
    onStack.add(root);
    while (work.length > 0) {
      const top = work[work.length - 1]!;
      const edges = (graph.get(top.node) ?? []).filter((e) => graph.has(e.to));
      if (top.edge < edges.length) {
        const to = edges[top.edge++]!.to;
        if (!index.has(to)) {
          index.set(to, next);
          low.set(to, next++);
          stack.push(to);
          onStack.add(to);
          work.push({ node: to, edge: 0 });
        } else if (onStack.has(to)) {
          low.set(top.node, Math.min(low.get(top.node)!, index.get(to)!));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(top.node)!));
      if (low.get(top.node) === index.get(top.node)) {
        const part: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          part.push(member);
        } while (member !== top.node);
        const selfImport = (graph.get(top.node) ?? []).some((e) => e.to === top.node);
        if (part.length > 1 || selfImport) found.push(orderRound(part, graph));
      }
    }
  }
  return found;
}

/** The shortest round through the circle's first file (by name): each file imports the next, the last the first. */
function orderRound(part: string[], graph: Map<string, Edge[]>): string[] {
  const members = new Set(part);
  const start = [...part].sort()[0]!;
  const cameFrom = new Map<string, string>();
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    const at = queue[i]!;
    for (const { to } of graph.get(at)!) {
      if (to === start) {
        const round = [at];
        while (round[0] !== start) round.unshift(cameFrom.get(round[0]!)!);
        return round;
      }
      if (members.has(to) && !cameFrom.has(to)) {
        cameFrom.set(to, at);
        queue.push(to);
      }
    }
  }
  return [start]; // not reached: every member of a strongly connected part lies on a round
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const root = repoRoot();
  const problems = findProblems(trackedFiles(root, ['src'], (name) => /\.[cm]?ts$/.test(name)));
  for (const p of problems) console.error(`${p.path}:${p.line}: ${p.message}`);
  if (problems.length > 0) {
    console.error(`${problems.length} import rule problem(s) (docs/architecture.md, "Rooms")`);
    process.exit(1);
  }
}
