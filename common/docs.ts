/**
 * Generated README sections: each lies between `<!-- generated:NAME -->` and
 * `<!-- /generated:NAME -->`, and is rebuilt from the definitions the code uses.
 */
import type { TSchema } from '@sinclair/typebox';

interface SchemaNode {
  type?: string;
  description?: string;
  default?: unknown;
  properties?: Record<string, SchemaNode>;
  anyOf?: SchemaNode[];
  const?: unknown;
  items?: SchemaNode;
  minimum?: number;
  maximum?: number;
}

function typeOf(s: SchemaNode): string {
  if (s.anyOf) return s.anyOf.map((a) => (a.const !== undefined ? JSON.stringify(a.const) : typeOf(a))).join(' \\| ');
  if (s.type === 'array') return `${s.items ? typeOf(s.items) : 'any'}[]`;
  const range = s.minimum !== undefined || s.maximum !== undefined ? ` ${s.minimum ?? ''}..${s.maximum ?? ''}` : '';
  return `${s.type ?? 'any'}${range}`;
}

/** One row per leaf field, dotted names, nested objects flattened. */
export function configMarkdown(schema: TSchema): string {
  const rows: string[] = [];
  const walk = (node: SchemaNode, prefix: string, required: readonly string[]): void => {
    for (const [name, child] of Object.entries(node.properties ?? {})) {
      const field = prefix + name;
      if (child.type === 'object' && child.properties) {
        walk(child, `${field}.`, (child as { required?: string[] }).required ?? []);
        continue;
      }
      const def = child.default !== undefined ? `\`${JSON.stringify(child.default)}\`` : required.includes(name) ? '**required**' : '(none)';
      rows.push(`| \`${field}\` | ${typeOf(child)} | ${def} | ${(child.description ?? '').replace(/\|/g, '\\|')} |`);
      // Arrays of objects: one row per member of an item, as `field[].member`.
      if (child.type === 'array' && child.items?.properties) {
        walk(child.items, `${field}[].`, (child.items as { required?: string[] }).required ?? []);
      }
    }
  };
  walk(schema, '', (schema as { required?: string[] }).required ?? []);
  return ['| field | type | default | meaning |', '|---|---|---|---|', ...rows].join('\n');
}

export function spliceDocs(text: string, sections: Record<string, string>): string {
  let out = text;
  for (const [name, body] of Object.entries(sections)) {
    const re = new RegExp(`(<!-- generated:${name} -->\\n)[\\s\\S]*?(<!-- /generated:${name} -->)`);
    out = out.replace(re, (_m, open: string, close: string) => `${open}${body}\n${close}`);
  }
  return out;
}
