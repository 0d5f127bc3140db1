import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Custom search attributes, so the Temporal UI and `talos-fleet runs` filter runs by cluster, operation and target
 * version (e.g. `TalosFleetCluster="prod" AND ExecutionStatus="Running"`). They are never encrypted: names only.
 * The dev server registers them at start (`--search-attribute`); a production namespace needs the
 * `temporal operator search-attribute create` lines in temporal/README.md.
 */
export const CLUSTER = defineSearchAttributeKey('TalosFleetCluster', SearchAttributeType.KEYWORD);
export const OPERATION = defineSearchAttributeKey('TalosFleetOperation', SearchAttributeType.KEYWORD);
export const TARGET_VERSION = defineSearchAttributeKey('TalosFleetTargetVersion', SearchAttributeType.KEYWORD);
export const REQUESTER = defineSearchAttributeKey('TalosFleetRequester', SearchAttributeType.KEYWORD);
export const PHASE = defineSearchAttributeKey('TalosFleetPhase', SearchAttributeType.KEYWORD);

/** Every key, with its type name as `temporal server start-dev --search-attribute NAME=TYPE` spells it. */
export const SEARCH_ATTRIBUTES = [CLUSTER, OPERATION, TARGET_VERSION, REQUESTER, PHASE];
