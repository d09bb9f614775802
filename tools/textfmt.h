/* textfmt.h - the characters of the text format's trace trees
 * (README.md (dump file formats)), shared by the text parser and writer. */
#ifndef TDC_TEXTFMT_H
#define TDC_TEXTFMT_H

#define TDC_ROOT "\xe2\x95\xbc"  /* U+257C, the node marker */
#define TDC_TEE "\xe2\x94\x9c"   /* U+251C, a child with later siblings */
#define TDC_ELBOW "\xe2\x94\x94" /* U+2514, the last child */
#define TDC_VBAR "\xe2\x94\x82"  /* U+2502, continues a parent's siblings */

#define TDC_STR_(x) #x
#define TDC_STR(x) TDC_STR_(x)

#endif /* TDC_TEXTFMT_H */
