export * from "./infra/exec.js";
