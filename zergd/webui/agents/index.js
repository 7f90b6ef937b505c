// Every agent's feeder, in the order lines are told apart (as
// zergd/transcript/__init__.py's AGENTS).  Adding an agent: its feeder here.

import { claude } from "./claude.js";
import { codex } from "./codex.js";

export const FEEDERS = [codex, claude];
