"""The operations table, the replica interface and the two implementations agree."""

import inspect

import pytest

import sync
from sync import ops
from sync.client import Client
from sync.interface import CAPABILITIES, FlowAPI, ReplicaAPI
from sync.replica import Replica


def test_every_operation_is_one_interface_method_on_both_sides():
    declared = {name for name, _ in inspect.getmembers(ReplicaAPI, inspect.isfunction)}
    flow = {name for name, _ in inspect.getmembers(FlowAPI, inspect.isfunction)}
    for op in ops.OPS.values():
        assert op.mode in ("call", "later", "post", "stream"), op.name
        if op.name in flow:  # the far side's workflow: served by sync.flowops, no Replica
            assert op.serve is not None and callable(getattr(Client, op.name)), op.name
            continue
        if op.internal:
            continue
        assert op.name in declared, op.name
        assert callable(getattr(Replica, op.name)), op.name  # what the server runs
        assert getattr(Client, op.name).__name__ == op.name  # made from the entry
        if op.mode == "later":
            assert getattr(Client, op.name + "_later").__name__ == op.name + "_later"
    # composite methods are written out on both sides
    for name in declared - set(ops.OPS):
        assert callable(getattr(Replica, name)) and callable(getattr(Client, name)), name


def test_the_local_replica_is_a_replica_api(project):
    assert isinstance(Replica(project.path), ReplicaAPI)


def test_every_replica_declares_its_capabilities_and_has_every_method(project):
    """What a replica can do beyond the common operations is declared (a class attribute
    each, listed in sync.interface.CAPABILITIES), never found by probing for methods; every
    replica has every method of the interface, a local one answering as one without the
    capability does."""
    from sync.datastream import DataStream
    from sync.ssh import SSHReplica

    assert set(CAPABILITIES) == {"second_stream", "patches_record",
                                            "unlocks_behind"}
    for cls in (Replica, Client, SSHReplica, DataStream):
        for name in CAPABILITIES:
            assert type(getattr(cls, name)) is bool, (cls, name)
        for name in ("start_second", "pick", "patch_record_later", "unlock_later",
                     "save_record_later"):
            assert callable(getattr(cls, name)), (cls, name)
    assert all(getattr(Client, name) for name in CAPABILITIES)
    assert not any(getattr(Replica, name) for name in CAPABILITIES)
    assert not DataStream.second_stream  # the second stream opens no third
    local = Replica(project.path)
    assert local.start_second() is None and local.pick(1 << 30) is local
    peer = "ab" * 16
    assert local.try_lock(peer) is None
    released = local.unlock_later(peer)
    assert released() is None and local.try_lock(peer) is None  # free again: taken anew
    local.unlock(peer)
    assert local.patch_record_later(peer, "0" * 64, "0" * 64, [], 0, [])() is False
    import sync.engine

    engine = inspect.getsource(sync.engine)
    assert "hasattr(self.R" not in engine and "hasattr(dst" not in engine


def test_unknown_operation_is_refused():
    with pytest.raises(ValueError, match="unknown operation 'format_disk'"):
        ops.lookup("format_disk")
    with pytest.raises(ValueError, match="unknown operation"):
        ops.lookup(["identity"])


def test_syncing_a_project_with_itself_over_the_local_transport(project):
    with pytest.raises(sync.SyncError, match="is this project itself"):
        sync.sync(project, project.path, ssh="local")


@pytest.mark.parametrize("note", [
    {"job": "0" * 32, "path": None, "unreadable": None},
    {"job": "0" * 32, "path": "out.txt", "unreadable": "why"},
    {"job": None, "path": None, "unreadable": "why"},
    {"job": "0" * 32, "path": None, "unreadable": 5},
    {"job": "0" * 32, "path": None, "extra": "why"},
    ["0" * 32, None],
])
def test_a_note_of_the_wrong_shape_is_a_protocol_error(note):
    from sync import answers, protocol

    with pytest.raises(protocol.ProtocolError, match="wrong shape"):
        answers.check_note(note, "far")
    good = {"job": "0" * 32, "path": None, "unreadable": "its state point hashes to ..."}
    assert answers.check_note(good, "far") == good
    with pytest.raises(sync.SyncError, match="refused job id"):
        answers.check_note({**good, "job": "../x"}, "far")
