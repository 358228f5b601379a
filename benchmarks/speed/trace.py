"""Same behaviour before and after: a digest of every env result on two checkouts.

A speed change must not change what the envs return. This runs, on each checkout in a fresh
process, the replay policy and a seeded mix of wrong, malformed, wrapped and answer actions
through both envs over the public conversations (see ``benchmarks.speed.compare`` for which
file) and 200 generated ones, and hashes every ``reset`` and ``step`` result compared as plain
data (mappings as dicts, sequences as lists, floats by ``repr``), plus every reference run's
states, known ids, payloads and facts. Read-only containers and copies hash alike, so a change of
container type alone does not count; any value that differs does.

With ``--generator`` it hashes instead the lines ``generate_lines`` writes for four seeds and
mixes (2,000 each), which must stay byte-identical.

Run::

    git worktree add /tmp/before <commit>
    python -m benchmarks.speed.trace --before /tmp/before [--after .] [--generator] [--quick]

Exits 1 when the digests differ. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.speed.compare import run_in, use_same_data

TRACE = """
import hashlib, json, random
from collections.abc import Mapping
from benchmarks.speed.envs import data_path, make_env, task_ids
from crm_gym.actions import format_tool_call
from crm_gym.data import load_conversations
try:
    from crm_gym.generator import generate
except ImportError:  # a checkout from before the generator had its own package
    from crm_gym.data.generator import generate
from crm_gym.envs.reference import build_reference

def plain(value):
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, float) or not isinstance(value, (str, int, bool, type(None))):
        return repr(value)
    return value

digest = hashlib.sha256()
def add(value):
    digest.update(json.dumps(plain(value), ensure_ascii=False).encode() + b"\\n")

conversations = load_conversations(data_path(None))[:{public}] + list(generate({generated}, 7))
for conversation in conversations:
    for turn in build_reference(conversation).turns:
        before = turn.before
        add([turn.state_after_turn, turn.state_after_episode, before.canonical,
             sorted(before.known_ids), before.clock_now, before.payloads, turn.payload,
             turn.error, turn.facts, turn.arguments])
rng = random.Random(0)
others = ["{not json", "Done, thanks.", '{"answer": "ok"}', '{"name": "nope", "arguments": {}}',
          '<tool>{"name": "client_search", "arguments": {"name": "zz"}}</tool>',
          '```json\\n{"name": "summarize_counts", "arguments": {}}\\n```',
          format_tool_call("opportunity_search", {"stage": "Qualification"})]
for env_id in ("ArcCrm-v1", "ArcCrmConversation-v1"):
    env = make_env(env_id, conversations, expose_reference=True)
    for index, task_id in enumerate(task_ids(env_id, conversations)):
        observation, info = env.reset(options={"task_id": task_id})
        add([observation, info])
        done, step = False, 0
        while not done:
            reference = info["reference"]
            if index % 3 == 2 and rng.random() < 0.5:
                action = rng.choice(others)
            elif step % 2 == 0:
                action = format_tool_call(reference["expected_tool"],
                                          reference["expected_arguments"])
            else:
                action = reference["expected_response"] or "Done."
            result = env.step(action)
            add(result)
            info, done, step = result[4], result[2] or result[3], step + 1
print(digest.hexdigest())
"""

GENERATOR_TRACE = """
import hashlib
try:
    from crm_gym.generator import generate_lines
except ImportError:  # a checkout from before the generator had its own package
    from crm_gym.data.generator import generate_lines
digest = hashlib.sha256()
for n, seed, mix in [({size}, 0, {{}}), ({size}, 2025, {{}}), ({size}, 5, {{"failure_share": 0.2}}),
                     ({size}, 11, {{"underspecified": 0.3, "empty_searches": 0.5,
                                  "complexity": {{"complex": 1.0}}}})]:
    for line in generate_lines(n, seed, **mix):
        digest.update(line.encode() + b"\\n")
print(digest.hexdigest())
"""


def trace_code(generator: bool, quick: bool) -> str:
    """The program whose last line is the digest: env results, or generator lines."""
    if generator:
        return GENERATOR_TRACE.format(size=100 if quick else 2000)
    code = TRACE.replace("{public}", "40" if quick else "None")
    return code.replace("{generated}", "20" if quick else "200")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="checkout of the old code")
    parser.add_argument("--after", type=Path, default=Path("."), help="checkout of the new code")
    parser.add_argument("--quick", action="store_true", help="a tenth of the work or less")
    parser.add_argument(
        "--generator", action="store_true", help="digest the generator's lines instead"
    )
    args = parser.parse_args()
    use_same_data()
    code = trace_code(args.generator, args.quick)
    digests = {
        name: run_in(root.resolve(), code)
        for name, root in (("before", args.before), ("after", args.after))
    }
    same = digests["before"] == digests["after"]
    print(f"before {digests['before']}\nafter  {digests['after']}\nsame: {'yes' if same else 'NO'}")
    print(json.dumps({**digests, "same": same}))
    raise SystemExit(0 if same else 1)


if __name__ == "__main__":
    main()
