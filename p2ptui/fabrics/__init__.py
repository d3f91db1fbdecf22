"""The bundled sample fabrics (YAML files beside this module); see p2ptui.formats.gallery."""
