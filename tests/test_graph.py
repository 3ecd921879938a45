"""The concatenation graph: edges as the paper's Figure 1 has them, at every size."""

from dataclasses import replace

import pytest

from densviz.core.config import ConfigError, DenseNetConfig, InputSpec, Stem
from densviz.core.plan import ArchitecturePlan, Role, make_plan
from densviz.draw.graph import FULL_LAYER_LIMIT, Detail, NodeKind, build_graph, members
from tests.helpers import plan_of


def renamed(plan: ArchitecturePlan) -> ArchitecturePlan:
    """The same plan with every row under another name: what a drawing shows must come from roles."""
    new = {r.name: f"module{i}" for i, r in enumerate(plan.layers)}
    layers = tuple(replace(r, name=new[r.name], inputs=tuple(new[s] for s in r.inputs)) for r in plan.layers)
    return replace(plan, layers=layers, _by_name={})


def cifar(layers: tuple[int, ...], k: int = 12):  # type: ignore[no-untyped-def]
    cfg = DenseNetConfig(growth_rate=k, block_config=layers, num_init_features=2 * k, stem=Stem.CIFAR, num_classes=10)
    return make_plan(cfg, InputSpec.square(32))


@pytest.mark.parametrize("layers", [(1,), (2, 3), (5, 12, 7)])
def test_dense_edges_per_block_are_triangular(layers: tuple[int, ...]) -> None:
    plan = cifar(layers)
    graph = build_graph(plan, Detail.DENSE)
    for s in plan.blocks:
        block_layers = {r.name for r in plan.with_role(Role.DENSE_LAYER) if r.block == s.index}
        transition = [r.name for r in plan.with_role(Role.TRANSITION) if r.block == s.index]
        closing = transition[0] if s.transition_channels is not None else plan.final_norm.name
        into_layers = [e for e in graph.edges if e.dst in block_layers]
        into_closing = [e for e in graph.edges if e.dst == closing]
        n = s.layers
        assert len(into_layers) == n * (n + 1) // 2  # layer ℓ reads the block input and ℓ−1 layers
        assert len(into_closing) == n + 1  # the transition reads all of them
    # plus input → conv0 and norm5 → classifier
    assert len(graph.edges) == sum(n * (n + 1) // 2 + n + 1 for n in layers) + 2


@pytest.mark.parametrize("name", ["densenet121", "densenet264", "densenet_bc100_k12", "tiny"])
@pytest.mark.parametrize("detail", list(Detail))
def test_every_plan_row_is_drawn_once(name: str, detail: Detail) -> None:
    plan = plan_of(name)
    graph = build_graph(plan, detail)
    drawn = list(members(graph))
    assert sorted(drawn) == sorted(r.name for r in plan.layers)
    ids = [n.id for n in graph.nodes]
    assert len(ids) == len(set(ids))
    assert {e.src for e in graph.edges} | {e.dst for e in graph.edges} <= set(ids)


@pytest.mark.parametrize("name", ["densenet121", "densenet264", "densenet40_k12"])
def test_dense_edges_carry_exactly_what_each_layer_reads(name: str) -> None:
    plan = plan_of(name)
    graph = build_graph(plan, Detail.DENSE)
    incoming: dict[str, int] = {}
    for e in graph.edges:
        incoming[e.dst] = incoming.get(e.dst, 0) + e.channels
    for node in graph.nodes:
        if node.kind is NodeKind.LAYER or node.kind is NodeKind.TRANSITION:
            assert incoming[node.id] == plan[node.id].in_channels, node.id
        if node.kind is NodeKind.ELIDED:  # its first layer's input arrives from outside
            assert incoming[node.id] == plan[node.members[0]].in_channels


def test_long_blocks_are_elided_with_a_note() -> None:
    plan = plan_of("densenet264")  # blocks 6, 12, 64, 48
    graph = build_graph(plan, Detail.DENSE)
    elided = [n for n in graph.nodes if n.kind is NodeKind.ELIDED]
    assert [len(n.members) for n in elided] == [64 - 6, 48 - 6]
    assert elided[0].title == "… 58 layers, 1,856 channels …"  # 58·32
    assert any("Dense block 3 has 64 layers" in note for note in graph.notes)
    assert len(graph.edges) < 250  # readable, and fast for dot


def test_threshold_is_settable_and_capped() -> None:
    plan = plan_of("densenet121")  # blocks 6, 12, 24, 16
    full = build_graph(plan, Detail.DENSE, max_full_layers=24)
    assert not any(n.kind is NodeKind.ELIDED for n in full.nodes)
    assert (
        len(full.edges) == sum(n * (n + 1) // 2 + n + 1 for n in (6, 12, 24, 16)) + 5
    )  # + the stem's 4 and the head's 1
    capped = build_graph(plan_of("densenet264"), Detail.DENSE, max_full_layers=100)
    assert any(f"Blocks over {FULL_LAYER_LIMIT} layers" in note for note in capped.notes)
    assert max(len(n.members) for n in capped.nodes) == 64 - 6


def test_chain_is_linear_and_counts_the_running_concatenation() -> None:
    plan = cifar((40, 40))
    graph = build_graph(plan, Detail.CHAIN)
    assert len(graph.edges) == 3 * 80 + 2 + 2  # per layer 3, into each closing node 1, input and head
    concats = [n for n in graph.nodes if n.kind is NodeKind.CONCAT and n.block == 1]
    assert [n.lines[0] for n in concats[:3]] == ["36 ch", "48 ch", "60 ch"]  # 2k = 24, then +12 each


def test_overview_is_the_stage_sequence() -> None:
    plan = plan_of("densenet121")
    graph = build_graph(plan, Detail.OVERVIEW)
    kinds = [n.kind for n in graph.nodes]
    assert kinds == [NodeKind.INPUT, NodeKind.STEM] + [NodeKind.BLOCK, NodeKind.TRANSITION] * 3 + [
        NodeKind.BLOCK,
        NodeKind.HEAD,
        NodeKind.HEAD,
    ]
    block3 = graph.nodes[6]
    assert block3.title == "dense block 3 · 24 layers · k = 32"
    assert block3.lines == ("256 → 1024 ch · 14×14",)
    assert [e.channels for e in graph.edges] == [3, 64, 256, 128, 512, 256, 1024, 512, 1024, 1024]


@pytest.mark.parametrize("detail", list(Detail))
def test_focus_on_one_block(detail: Detail) -> None:
    plan = plan_of("densenet121")
    graph = build_graph(plan, detail, block=2)
    blocks = {n.block for n in graph.nodes}
    assert blocks <= {1, 2}  # block 2, and transition1 that feeds it
    assert "features.transition1" in {n.id for n in graph.nodes}
    assert "features.transition2" in {n.id for n in graph.nodes}
    assert [c.block for c in graph.clusters] == ([] if detail is Detail.OVERVIEW else [2])
    last = build_graph(plan, detail, block=4)
    assert "features.norm5" in {n.id for n in last.nodes}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"detail": "full"}, "detail"),
        ({"block": 5}, "block"),
        ({"block": 0}, "block"),
        ({"max_full_layers": 0}, "max_full_layers"),
    ],
)
def test_bad_graph_options(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        build_graph(plan_of("densenet121"), **kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


@pytest.mark.parametrize("name", ["densenet121", "densenet_bc100_k12", "tiny"])
@pytest.mark.parametrize("detail", list(Detail))
@pytest.mark.parametrize("block", [None, 1, 3])
def test_rows_are_drawn_by_role_not_by_name(name: str, detail: Detail, block: int | None) -> None:
    plan = plan_of(name)
    graph, other = build_graph(plan, detail, block=block), build_graph(renamed(plan), detail, block=block)
    assert [n.kind for n in other.nodes] == [n.kind for n in graph.nodes]
    assert [n.lines for n in other.nodes] == [n.lines for n in graph.nodes]
    assert [(e.channels, e.note, e.spine) for e in other.edges] == [(e.channels, e.note, e.spine) for e in graph.edges]
    assert [len(c.nodes) for c in other.clusters] == [len(c.nodes) for c in graph.clusters]
    assert other.notes == graph.notes


@pytest.mark.parametrize("stem", list(Stem))
def test_stem_rows_are_titled_by_kind(stem: Stem) -> None:
    plan = make_plan(DenseNetConfig(growth_rate=8, block_config=(2, 2), stem=stem), InputSpec.square(32))
    graph = build_graph(plan, Detail.DENSE)
    titles = [n.title for n in graph.nodes if n.kind is NodeKind.STEM]
    if stem is Stem.CIFAR:
        assert titles == ["conv0 · 3×3 conv"]
    else:
        assert titles == ["conv0 · 7×7/2 conv", "norm0 · batch norm", "relu0 · ReLU", "pool0 · 3×3/2 max pool"]
    overview = build_graph(plan, Detail.OVERVIEW)
    assert overview.nodes[1].lines[0] == (
        "3×3 conv" if stem is Stem.CIFAR else "7×7/2 conv, batch norm, ReLU, 3×3/2 max pool"
    )
