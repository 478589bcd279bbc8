/** The envd process service: processes and PTYs started, observed and controlled over Connect. */
export { ProcessManager } from './manager.js';
export { registerProcessService } from './service.js';
