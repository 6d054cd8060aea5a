"""Read a DCAT catalogue the way a CKAN portal's DCAT harvester does; run by the harvester's own venv.

    .venv-harvest/bin/python tests/harvest/ckan_harvest.py CATALOGUE_URL LICENCES_JSON

ckanext-dcat's `RDFParser` with its DCAT-AP 3 profile (`euro_dcat_ap_3`, the default), page by page as its
`DCATRDFHarvester.gather_stage` does: a parser per page, its datasets, then `next_page()` (Hydra) until there is
none. CKAN itself is only imported (the parser uses its config, licence register and helpers): no database, no
Solr. The portal's licence list (`licenses_group_url`) is LICENCES_JSON, as a portal configures it.
Prints {"pages": [...], "datasets": [...]} as JSON on stdout.
"""

import json
import sys
import urllib.request


def main(url: str, licences: str) -> None:
    from ckantoolkit import config

    config["licenses_group_url"] = "file://" + licences
    from ckanext.dcat.processors import RDFParser

    pages, datasets, next_page = [], [], url
    while next_page and next_page not in pages:
        pages.append(next_page)
        request = urllib.request.Request(next_page, headers={"Accept": "text/turtle"})
        with urllib.request.urlopen(request, timeout=60) as response:
            content = response.read()
        parser = RDFParser(profiles=["euro_dcat_ap_3"])
        parser.parse(content, _format="text/turtle")
        datasets.extend(parser.datasets())
        next_page = parser.next_page()
    json.dump({"pages": pages, "datasets": datasets}, sys.stdout, default=str)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
