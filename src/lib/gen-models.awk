# Turns gpu-models.tsv into C tables: one row per model, one per PCI id.
BEGIN { FS = "\t"; nm = 0 }
/^#/ || NF < 8 { next }
{
	models[nm] = sprintf("\t{ \"%s\", \"%s\", %d, %d, %d, %s },", $1, $2, $3, $4, $5, $6)
	n = split($7, gpu, ",")
	for (i = 1; i <= n; i++) ids[nid++] = idrow(gpu[i], nm, 0)
	if ($8 != "-") {
		n = split($8, au, ",")
		for (i = 1; i <= n; i++) ids[nid++] = idrow(au[i], nm, 1)
	}
	nm++
}
function idrow(id, m, audio,   p) {
	split(id, p, ":")
	return sprintf("\t{ 0x%s, 0x%s, %d, %d },", p[1], p[2], m, audio)
}
END {
	print "/* Generated from gpu-models.tsv by gen-models.awk: do not edit. */"
	print "#include \"models.h\""
	print "const struct gpu_model gpu_models[] = {"
	for (i = 0; i < nm; i++) print models[i]
	print "};"
	print "const size_t gpu_models_count = " nm ";"
	print "const struct gpu_model_id gpu_model_ids[] = {"
	for (i = 0; i < nid; i++) print ids[i]
	print "};"
	print "const size_t gpu_model_ids_count = " nid ";"
}
