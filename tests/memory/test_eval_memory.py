"""``crm-gym eval --memory PATH``: the policy is wrapped in a MemoryPolicy reading that database."""

from __future__ import annotations

from agents.memory import GuidelineMemory, MemoryPolicy
from benchmarks.records import load_records
from crm_gym.generator import generate
from scripts.cli import main


def test_eval_with_a_memory_file_injects_its_guidelines(tmp_path, monkeypatch):
    conversation = next(generate(1, 3))
    memory_path = tmp_path / "memory.db"
    GuidelineMemory(memory_path).write(conversation.turns[0].user_utterance, "Call the tool.")
    seen = []
    act = MemoryPolicy.act

    def spy(self, observations, n=1, sampling=None):
        seen.extend(o.info.get("messages", [{}])[-1].get("content", "") for o in observations)
        samples = act(self, observations, n, sampling)
        seen.append(sum(s.injected for s in self.stats.values()))
        return samples

    monkeypatch.setattr(MemoryPolicy, "act", spy)
    output = tmp_path / "log.jsonl"
    argv = ["eval", "--policy", "random", "--tasks", "generated:1:3", "--memory", str(memory_path)]
    argv += ["-o", str(output), "--no-progress"]
    assert main(argv) == 0
    assert len(load_records(output)) == 1
    assert seen[1] >= 1  # the first call injected the stored guideline


def test_eval_refuses_a_jsonl_memory_in_one_line(tmp_path, capsys):
    memory_path = tmp_path / "memory.jsonl"
    memory_path.write_text('{"key": "k", "text": "t"}\n', encoding="utf-8")
    argv = ["eval", "--policy", "random", "--tasks", "generated:1:3", "--memory", str(memory_path)]
    argv += ["-o", str(tmp_path / "log.jsonl"), "--no-progress"]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and f"{memory_path} is not a SQLite database" in error
    assert "import_jsonl" in error
