"""The item catalogue (事项目录): approval items with their limits and fee standards, versioned.

==============  ==========================================================================
``model``       pure: items, limits, row validation, :func:`check_case` → findings
``files``       CSV / Excel (openpyxl) reading and writing, errors naming row and column
``store``       SQLite tables in the hub database: every import or edit is a new version
``cases``       the findings of stored cases (a month's, one case's) against the current version
``cli``         ``xiaoneng-hub catalogue import|export|show|sample``
==============  ==========================================================================

The engine's card rules are unchanged: a case that disagrees with the catalogue is *flagged*
(finding), not re-judged.
"""
