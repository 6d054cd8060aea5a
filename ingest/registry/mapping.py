"""The PTCE registry, curated from public documents (see documents.csv), one table per kind of fact:

    documents.csv      the public documents cited            -> id/document/{id}
    organisations.csv  carriers, members, funders           -> id/organisation/{id}
    ptce.csv           the PTCE: names, the 2014 map, a summary -> id/ptce/{id}
    members.csv        memberships with role and circle      -> id/membership/{ptce}/{member}
    awards.csv         programmes won                        -> id/award/{programme}/{ptce}
    charters.csv       the PTCE charters (2014, 2021)        -> id/charte/{year}
    charter-statements.csv  how many PTCE signed a charter, when, with each figure's reference
                                                             -> id/statement/charte/{year}/{property}/{n}
    censuses.csv       what published counts of PTCE are about (the PTCE of France) -> id/census/{id}
    census-statements.csv   each published count of PTCE, with its precision, date and reference
                                                             -> id/statement/census/{id}/{property}/{n}
    statements.csv     every fact of a PTCE (territory, perimeter kind, carrier, sectors, cooperation modes,
                       stage, impulse, year created, member counts), one row each, with its qualifiers and
                       its own reference (ingest/statements.py)
                                                             -> id/statement/ptce/{ptce}/{property}/{n}

Every row cites its documents (`source`) and what it rests on: the exact `passage` of a seed or an official
legal text, or, for a web page, the fact in our own words (`note`) and the date the page was read
(`retrieved`), never its sentences (ingest/table.py check_citation). Unknown stays empty, never guessed.
Territories are referenced as kind:code (commune:39300, epci:200093201, departement:65…) and must
exist in the pinned découpage administratif.
"""

from __future__ import annotations

from pathlib import Path

from pyoxigraph import NamedNode

from ingest.base import BuildContext, Provenance, Source
from ingest.statements import COLUMNS as STATEMENT_COLUMNS, Prop, load_statements
from ingest.table import Row, Table, cite, curated_provenance, document_kinds, resolve_ref
from ptce_kg.identifiers import siren_ok
from ptce_kg.rdf import (add_siren, DCT, FOAF, ORG, PTCE, RDFS, ROV, SCHEMA, SKOS, A, TripleSink, code, en, fr,
                         graph, iri, string, typed)

HERE = Path(__file__).resolve().parent

ACTOR_KINDS = {"ess-enterprise", "other-enterprise", "collectivite", "research-centre",
               "higher-education", "training-body", "other-person"}
CIRCLES = {"carrier", "initiator", "partner"}
LEGAL_FORMS = {"association", "fondation", "mutuelle", "cooperative", "scop", "scic", "sarl",
               "societe-commerciale", "collectivite", "etablissement-public", "etat"}
ESS_STATUSES = {"cae", "ge", "geiq", "siae", "aci", "ei", "etti", "ai", "eiti", "esus"}
PERIMETER_KINDS = {"agglomeration", "pays", "bassin-emploi", "quartier", "departement",
                   "interdepartemental", "region"}
SECTORS = {"eco-activites", "emploi", "alimentation", "culture", "services-entreprises",
           "services-personne", "dechets", "energie", "ecoconstruction", "mobilite", "textile",
           "numerique", "tourisme", "industrie", "sante"}
COOPERATION_MODES = {"mutualisation", "mutualisation-locaux", "mutualisation-emplois",
                     "mutualisation-services", "mutualisation-equipements", "mutualisation-savoirs",
                     "cooperation", "partenariat"}
STAGES = {"gestation", "emergence", "developpement", "consolidation"}
IMPULSES = {"entrepreneuriale", "citoyenne", "collectivite"}
BOOLEANS = {"true": True, "false": False, "": None}
# What statements.csv may give for a PTCE: numbers (with a precision) ...
NUMBERS = {
    "member-count": Prop(PTCE.declaredMemberCount, "integer", "nombre de membres"),
    "ess-member-count": Prop(PTCE.essMemberCount, "integer", "nombre de membres entreprises de l'ESS"),
    "other-enterprise-member-count": Prop(PTCE.otherEnterpriseMemberCount, "integer",
                                          "nombre de membres entreprises hors ESS"),
    "created": Prop(DCT.created, "gYear", "année de création"),
}
# What charter-statements.csv may give for a charter.
CHARTER_PROPERTIES = {"signatories": Prop(PTCE.signatoryCount, "integer", "nombre de signataires")}
# What census-statements.csv may give for a census.
CENSUS_PROPERTIES = {"ptce-count": Prop(PTCE.ptceCount, "integer", "nombre de PTCE")}
# ... and codes of the project's lists (ontology/codes.ttl): key -> (predicate, code list, allowed, label)
CODES = {
    "perimeter-kind": (PTCE.perimeterKind, "perimeter-kind", PERIMETER_KINDS, "type de périmètre"),
    "sector": (PTCE.sector, "sector", SECTORS, "secteur"),
    "cooperation-mode": (PTCE.cooperationMode, "cooperation-mode", COOPERATION_MODES, "mode de coopération"),
    "stage": (PTCE.stage, "stage", STAGES, "stade de développement"),
    "impulse": (PTCE.impulse, "impulse", IMPULSES, "impulsion"),
}


# The columns ptce.csv had before every fact became its own statement, and the property that replaced each.
MOVED_TO_STATEMENTS = {"carrier": "carrier", "perimeter": "territory", "perimeter_kind": "perimeter-kind",
                       "sectors": "sector", "cooperation_modes": "cooperation-mode", "stage": "stage",
                       "impulse": "impulse", "created": "created"}


def properties(territories: dict[str, NamedNode], organisations: set[str]) -> dict[str, Prop]:
    """Every property of statements.csv, items resolved against the territories and organisations."""
    def coded(scheme: str, allowed: set[str]):
        def resolve(row: Row, value: str) -> NamedNode:
            if value not in allowed:
                raise row.error("value", f"'{value}' is not one of {sorted(allowed)}")
            return code(scheme, value)
        return resolve

    props = dict(NUMBERS)
    props["territory"] = Prop(PTCE.perimeter, "item", "territoire",
                              lambda row, v: resolve_ref(row, "value", v, territories))
    # a carrier is an organisation of organisations.csv (or a collectivité, as a territory reference)
    props["carrier"] = Prop(PTCE.carrier, "item", "structure porteuse",
                            lambda row, v: resolve_ref(row, "value", v, territories, organisations))
    for key, (predicate, scheme, allowed, label) in CODES.items():
        props[key] = Prop(predicate, "item", label, coded(scheme, allowed))
    return props


def _codes(sink: TripleSink, node: NamedNode, row: Row, field: str, scheme: str, prop: NamedNode,
           allowed: set[str]) -> None:
    for value in row.items(field):
        if value not in allowed:
            raise row.error(field, f"'{value}' is not one of {sorted(allowed)}")
        sink.add(node, prop, code(scheme, value))


# The document holding the 2014 national map of PTCE ("map_2014" = yes cites it).
MAP_2014_DOCUMENT = "rtes-journee-lille-2014"


class RegistrySource(Source):
    name = "registry"
    graph = graph("registry")

    def __init__(self, folder: Path | None = None):
        self.folder = Path(folder or HERE)

    def _table(self, name: str, columns: list[str]) -> Table:
        return Table(self.name, self.folder / name, columns)

    def provenance(self) -> Provenance:
        return curated_provenance("registry", "Registre des PTCE curé à partir de documents publics",
                                  "PTCE registry curated from public documents")

    def load(self, sink: TripleSink, ctx: BuildContext) -> None:
        self._kinds = document_kinds()
        documents = self._documents(sink)
        organisations = self._organisations(sink, ctx, documents)
        ptces = self._ptce(sink, ctx, organisations, documents)
        stated = load_statements(sink, self._table("statements.csv", STATEMENT_COLUMNS), "ptce",
                                 properties(ctx.territories, organisations), ptces, documents)
        # the carriers read as direct triples must each have their membership row (circle carrier)
        carriers = {s.subject: s for s in stated if s.key == "carrier" and s.status == "result" and s.rank != "deprecated"}
        self._carriers = {subject: s.value for subject, s in carriers.items()}
        self._members(sink, ctx, organisations, ptces, documents)
        self._awards(sink, ptces, documents)
        charters = self._charters(sink, documents)
        load_statements(sink, self._table("charter-statements.csv", STATEMENT_COLUMNS), "charte", CHARTER_PROPERTIES,
                        charters, documents)
        censuses = self._censuses(sink, documents)
        load_statements(sink, self._table("census-statements.csv", STATEMENT_COLUMNS), "census", CENSUS_PROPERTIES,
                        censuses, documents)

    # ---------------------------------------------------------------------------------------------
    def _documents(self, sink: TripleSink) -> dict[str, NamedNode]:
        documents: dict[str, NamedNode] = {}
        for row in self._table("documents.csv", ["id", "title", "publisher", "issued", "url", "note"]).rows():
            node = iri(f"document/{row.required('id')}")
            documents[row.get("id")] = node
            sink.add(node, A, FOAF.Document)
            sink.add(node, A, DCT.BibliographicResource)
            sink.add(node, DCT.title, fr(row.required("title")))
            sink.add(node, RDFS.label, fr(row.get("title")))
            sink.add(node, DCT.publisher, string(row.required("publisher")))
            issued = row.get("issued")
            if issued:
                kind = {4: "gYear", 7: "gYearMonth", 10: "date"}.get(len(issued))
                if kind is None:
                    raise row.error("issued", f"'{issued}' is not YYYY, YYYY-MM or YYYY-MM-DD")
                sink.add(node, DCT.issued, typed(issued, kind))
            if row.get("url"):
                if not row.get("url").startswith(("http://", "https://")):
                    raise row.error("url", "not an http(s) URL")
                sink.add(node, SCHEMA.url, NamedNode(row.get("url")))
            if row.get("note"):
                sink.add(node, RDFS.comment, fr(row.get("note")))
        return documents

    def _organisations(self, sink: TripleSink, ctx: BuildContext, documents) -> set[str]:
        columns = ["id", "name", "legal_form", "ess", "ess_status", "actor_kind", "group", "location",
                   "siren", "source", "passage", "retrieved", "note"]
        ids: set[str] = set()
        for row in self._table("organisations.csv", columns).rows():
            key = row.required("id")
            ids.add(key)
            node = iri(f"organisation/{key}")
            sink.add(node, A, PTCE.Organisation)
            sink.add(node, A, ORG.Organization)
            if row.choice("group", {"yes", ""}) == "yes":
                sink.add(node, A, PTCE.MemberGroup)
            sink.add(node, RDFS.label, fr(row.required("name")))
            sink.add(node, SKOS.prefLabel, fr(row.get("name")))
            _codes(sink, node, row, "legal_form", "legal-form", ROV.orgType, LEGAL_FORMS)
            ess = row.get("ess").lower()
            if ess not in BOOLEANS:
                raise row.error("ess", f"'{ess}' is not true, false or empty")
            if BOOLEANS[ess] is not None:
                sink.add(node, PTCE.essEnterprise, typed(ess, "boolean"))
            _codes(sink, node, row, "ess_status", "ess-status", PTCE.essStatus, ESS_STATUSES)
            _codes(sink, node, row, "actor_kind", "actor-kind", PTCE.actorKind, ACTOR_KINDS)
            if row.get("location"):
                sink.add(node, PTCE.location, resolve_ref(row, "location", row.get("location"), ctx.territories))
            siren = row.get("siren")
            if siren:
                if not siren_ok(siren):
                    raise row.error("siren", f"'{siren}' is not a valid SIREN (9 digits, Luhn key)")
                add_siren(sink, node, siren)
            cite(sink, node, row, key, documents, self._kinds)
            ctx.organisations[node.value] = (row.get("name"), row.get("location"), siren)
        return ids

    def _ptce(self, sink: TripleSink, ctx: BuildContext, organisations: set[str], documents) -> set[str]:
        columns = ["id", "label", "alt_labels", "map_2014", "description", "source", "passage", "retrieved", "note"]
        ids: set[str] = set()
        for row in self._table("ptce.csv", columns).rows():
            moved = [c for c in MOVED_TO_STATEMENTS if c in row.values]
            if moved:
                raise row.error(moved[0], f"ptce.csv no longer holds facts: each one is a row of statements.csv "
                                          f"(property '{MOVED_TO_STATEMENTS[moved[0]]}') with its own passage")
            key = row.required("id")
            ids.add(key)
            node = iri(f"ptce/{key}")
            sink.add(node, A, PTCE.PTCE)
            sink.add(node, RDFS.label, fr(row.required("label")))
            sink.add(node, SKOS.prefLabel, fr(row.get("label")))
            for alt in row.items("alt_labels"):
                sink.add(node, SKOS.altLabel, fr(alt))
            if row.choice("map_2014", {"yes", ""}) == "yes":
                sink.add(node, PTCE.mapCategory, code("map-category", "repere"))
                if MAP_2014_DOCUMENT not in documents:
                    raise row.error("map_2014", f"the 2014 map document '{MAP_2014_DOCUMENT}' is not in documents.csv")
                sink.add(node, DCT.source, documents[MAP_2014_DOCUMENT])
            if row.get("description"):
                sink.add(node, DCT.description, fr(row.get("description")))
            cite(sink, node, row, key, documents, self._kinds)
        return ids

    def _members(self, sink: TripleSink, ctx: BuildContext, organisations: set[str], ptces: set[str],
                 documents) -> None:
        columns = ["ptce", "member", "role", "circle", "source", "passage", "retrieved", "note"]
        listed: set[tuple[str, str]] = set()
        for row in self._table("members.csv", columns).rows():
            ptce, member = row.required("ptce"), row.required("member")
            if ptce not in ptces:
                raise row.error("ptce", f"unknown PTCE '{ptce}' (see ptce.csv)")
            if (ptce, member) in listed:
                raise row.error("member", f"'{member}' is listed twice for '{ptce}'")
            listed.add((ptce, member))
            member_node = resolve_ref(row, "member", member, ctx.territories, organisations)
            key = f"{ptce}/{member.replace(':', '-')}"
            node = iri(f"membership/{key}")
            ptce_node = iri(f"ptce/{ptce}")
            sink.add(node, A, PTCE.PTCEMembership)
            sink.add(node, RDFS.label, fr(f"adhésion de {member} à {ptce}"))
            sink.add(node, ORG.organization, ptce_node)
            sink.add(node, ORG.member, member_node)
            sink.add(ptce_node, ORG.hasMember, member_node)
            role = row.choice("role", ACTOR_KINDS)  # unknown stays empty: a page may name a carrier, not its kind
            if role:
                sink.add(node, ORG.role, code("actor-kind", role))
            circle = row.choice("circle", CIRCLES)
            if circle:
                sink.add(node, PTCE.circle, code("circle", circle))
            cite(sink, node, row, key.replace("/", "--"), documents, self._kinds)
        missing = [(p, c) for p, c in self._carriers.items() if (p, c) not in listed]
        if missing:
            p, c = missing[0]
            raise row.error("member", f"carrier '{c}' of PTCE '{p}' has no membership row (circle carrier)")

    def _awards(self, sink: TripleSink, ptces: set[str], documents) -> None:
        from ingest.programmes.mapping import HERE as PROGRAMMES_DIR

        programmes = {r.get("id") for r in Table("programmes", PROGRAMMES_DIR / "programmes.csv", ["id"]).rows()}
        columns = ["ptce", "programme", "year", "amount_eur", "duration_months", "source", "passage", "retrieved",
                   "note"]
        for row in self._table("awards.csv", columns).rows():
            ptce, programme = row.required("ptce"), row.required("programme")
            if ptce not in ptces:
                raise row.error("ptce", f"unknown PTCE '{ptce}' (see ptce.csv)")
            if programme not in programmes:
                raise row.error("programme", f"unknown programme '{programme}' (see ingest/programmes/programmes.csv)")
            key = f"{programme}/{ptce}"
            node = iri(f"award/{key}")
            sink.add(node, A, PTCE.Award)
            sink.add(node, RDFS.label, fr(f"{ptce} lauréat de {programme}"))
            sink.add(node, PTCE.laureate, iri(f"ptce/{ptce}"))
            sink.add(node, PTCE.programme, iri(f"programme/{programme}"))
            year = row.integer("year")
            if year is not None:
                sink.add(node, PTCE.year, typed(str(year), "gYear"))
            amount = row.integer("amount_eur")
            if amount is not None:
                sink.add(node, PTCE.amount, typed(str(amount), "decimal"))
            months = row.integer("duration_months")
            if months is not None:
                sink.add(node, PTCE.fundingDurationMonths, typed(str(months), "integer"))
            cite(sink, node, row, key.replace("/", "--"), documents, self._kinds)

    def _labelled(self, sink: TripleSink, documents, name: str, kind: str, cls: NamedNode,
                  extra: tuple[str, ...] = ()) -> dict[str, Row]:
        """The rows of a table of labelled things (charters, censuses): id/{kind}/{id}, typed, labelled in French
        and English, each row cited; id -> row for what the caller adds."""
        columns = ["id", "label_fr", "label_en", *extra, "source", "passage", "retrieved", "note"]
        rows: dict[str, Row] = {}
        for row in self._table(name, columns).rows():
            key = row.required("id")
            rows[key] = row
            node = iri(f"{kind}/{key}")
            sink.add(node, A, cls)
            sink.add(node, RDFS.label, fr(row.required("label_fr")))
            sink.add(node, RDFS.label, en(row.required("label_en")))
            cite(sink, node, row, key, documents, self._kinds)
        return rows

    def _charters(self, sink: TripleSink, documents) -> set[str]:
        rows = self._labelled(sink, documents, "charters.csv", "charte", PTCE.Charter, ("year",))
        for key, row in rows.items():
            sink.add(iri(f"charte/{key}"), DCT.issued, typed(str(row.integer("year")), "gYear"))
        return set(rows)

    def _censuses(self, sink: TripleSink, documents) -> set[str]:
        return set(self._labelled(sink, documents, "censuses.csv", "census", PTCE.Census))
