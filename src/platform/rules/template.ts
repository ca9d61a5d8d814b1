// Placeholders in a rule's publish topic/payload, command device and event message: {{value}},
// {{device}}, {{point}}, {{rule}}, {{ts}}. Unknown names are left as written.
import type { PointValue } from '../store/types.ts';

export interface TemplateContext {
  rule: string;
  device: string;
  point: string;
  value: PointValue;
  ts: number;
}

const PLACEHOLDER = /\{\{\s*(value|device|point|rule|ts)\s*\}\}/g;

export function renderText(template: string, ctx: TemplateContext): string {
  return template.replace(PLACEHOLDER, (_m, name: keyof TemplateContext) => String(ctx[name]));
}

/**
 * A string payload is rendered as text. An object payload is sent as JSON, and a string member that
 * is exactly one placeholder keeps the value's type (`"{{value}}"` → 5.2, not "5.2").
 */
export function renderPayload(payload: string | Record<string, unknown>, ctx: TemplateContext): string {
  if (typeof payload === 'string') return renderText(payload, ctx);
  return JSON.stringify(payload, (_key, member: unknown) => {
    if (typeof member !== 'string') return member;
    const whole = /^\{\{\s*(value|device|point|rule|ts)\s*\}\}$/.exec(member);
    return whole ? ctx[whole[1] as keyof TemplateContext] : renderText(member, ctx);
  });
}
