export * from './reason-codes.ts';
export * from './topic.ts';
