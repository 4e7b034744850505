export { buildApp } from './http/app.ts';
export { createContext, type AppContext } from './context.ts';
export { loadConfig, type Config } from './config.ts';
export { recordAiResult } from './services/scan-service.ts';
