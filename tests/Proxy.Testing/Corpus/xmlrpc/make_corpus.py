#!/usr/bin/env python3
"""Writes the XML-RPC corpus the classifier tests read: faults/ must be caught as faultCode 1007,
lookalikes/ must be delivered untouched. Each fault is written the way the named server writes its
fault response (from the project's documented output or its serializer's source); Python's own are
produced by xmlrpc.client itself. Run: python3 make_corpus.py (the files are committed)."""
import os, xmlrpc.client

HERE = os.path.dirname(os.path.abspath(__file__))

def write(folder, name, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(HERE, folder, name), "wb") as f:
        f.write(data)

def fault(name, data): write("faults", name, data)
def lookalike(name, data): write("lookalikes", name, data)

# Python xmlrpc.server / xmlrpc.client: <int>, one element per line, single-quoted declaration.
fault("python-xmlrpc-client.xml", xmlrpc.client.dumps(xmlrpc.client.Fault(1007, "server overloaded"), methodresponse=True))
fault("python-xmlrpc-latin1.xml", xmlrpc.client.dumps(xmlrpc.client.Fault(1007, "surchargé"), methodresponse=True, encoding="iso-8859-1").encode("iso-8859-1"))
# SimpleXMLRPCServer(encoding=...) declares the codec name it was given, in Python's spelling.
for codec in ["utf8", "latin-1", "cp1251", "us_ascii", "koi8_r", "mac-roman", "utf_8_sig", "cp65001", "mac_cyrillic", "iso2022_jp", "hz"]:
    fault("python-encoding-" + codec.replace("_", "-") + ".xml",
          xmlrpc.client.dumps(xmlrpc.client.Fault(1007, "server overloaded"), methodresponse=True, encoding=codec).encode(codec, "xmlcharrefreplace"))
fault("python-long-faultstring.xml", xmlrpc.client.dumps(xmlrpc.client.Fault(1007, "x" * 100_000), methodresponse=True))

# The founding setup's nodes: compact, <i4>.
fault("founding-i4-compact.xml",
      '<?xml version="1.0"?><methodResponse><fault><value><struct><member><name>faultCode</name><value><i4>1007</i4></value></member>'
      '<member><name>faultString</name><value><string>overloaded</string></value></member></struct></value></fault></methodResponse>')

# Apache XML-RPC for Java (XmlRpcWriter): extensions namespace on the root, <i4>, untyped faultString.
fault("apache-xmlrpc-java.xml",
      '<?xml version="1.0" encoding="UTF-8"?><methodResponse xmlns:ex="http://ws.apache.org/xmlrpc/namespaces/extensions">'
      '<fault><value><struct><member><name>faultCode</name><value><i4>1007</i4></value></member>'
      '<member><name>faultString</name><value>Server overloaded</value></member></struct></value></fault></methodResponse>')

# PHP phpxmlrpc (Response::serialize): newlines between elements, <int>.
fault("php-phpxmlrpc.xml",
      '<?xml version="1.0"?>\n<methodResponse>\n<fault>\n<value>\n<struct><member><name>faultCode</name>\n<value><int>1007</int></value>\n</member>\n'
      '<member>\n<name>faultString</name>\n<value><string>Server overloaded</string></value>\n</member>\n</struct>\n</value>\n</fault>\n</methodResponse>')

# PHP ext/xmlrpc (xmlrpc-epi): iso-8859-1 declaration, indented, <int>.
fault("php-xmlrpc-epi.xml",
      ('<?xml version="1.0" encoding="iso-8859-1"?>\n<methodResponse>\n<fault>\n <value>\n  <struct>\n   <member>\n    <name>faultCode</name>\n'
       '    <value>\n     <int>1007</int>\n    </value>\n   </member>\n   <member>\n    <name>faultString</name>\n    <value>\n'
       '     <string>Trop de requ\xeates</string>\n    </value>\n   </member>\n  </struct>\n </value>\n</fault>\n</methodResponse>\n').encode("iso-8859-1"))

# Go (kolo/xmlrpc, alexejk.io/go-xmlrpc): a map, so faultString may come first; <int>.
fault("go-faultstring-first.xml",
      '<?xml version="1.0" encoding="UTF-8"?><methodResponse><fault><value><struct><member><name>faultString</name>'
      '<value><string>overloaded</string></value></member><member><name>faultCode</name><value><int>1007</int></value></member>'
      '</struct></value></fault></methodResponse>')

# Ruby xmlrpc gem (XMLWriter::Simple): "<?xml version=\"1.0\" ?>", <i4>.
fault("ruby-xmlrpc.xml",
      '<?xml version="1.0" ?><methodResponse><fault><value><struct><member><name>faultCode</name><value><i4>1007</i4></value></member>'
      '<member><name>faultString</name><value><string>overloaded</string></value></member></struct></value></fault></methodResponse>\n')

# .NET XML-RPC.NET (CookComputing): UTF-8 byte-order mark, two-space indentation, CRLF, <i4>.
fault("dotnet-xmlrpcnet-bom-crlf.xml",
      '\ufeff<?xml version="1.0"?>\r\n<methodResponse>\r\n  <fault>\r\n    <value>\r\n      <struct>\r\n        <member>\r\n'
      '          <name>faultCode</name>\r\n          <value>\r\n            <i4>1007</i4>\r\n          </value>\r\n        </member>\r\n'
      '        <member>\r\n          <name>faultString</name>\r\n          <value>\r\n            <string>Server overloaded</string>\r\n'
      '          </value>\r\n        </member>\r\n      </struct>\r\n    </value>\r\n  </fault>\r\n</methodResponse>')

# Perl RPC::XML: us-ascii declaration, faultString first, <int>.
fault("perl-rpc-xml.xml",
      '<?xml version="1.0" encoding="us-ascii"?><methodResponse><fault><value><struct><member><name>faultString</name>'
      '<value><string>overloaded</string></value></member><member><name>faultCode</name><value><int>1007</int></value></member>'
      '</struct></value></fault></methodResponse>')

# UTF-16 (little endian with BOM, big endian with BOM), as a .NET XmlWriter with Encoding.Unicode writes.
utf16 = '<?xml version="1.0" encoding="utf-16"?><methodResponse><fault><value><struct><member><name>faultCode</name><value><int>1007</int></value></member><member><name>faultString</name><value><string>overloaded</string></value></member></struct></value></fault></methodResponse>'
fault("utf16le-bom.xml", b"\xff\xfe" + utf16.encode("utf-16-le"))
fault("utf16be-bom.xml", b"\xfe\xff" + utf16.encode("utf-16-be"))

# Valid variations: no declaration, comments, sign and spaces around the integer, tabs.
fault("no-declaration-comments.xml",
      '<!-- busy --><methodResponse><fault><!-- why --><value><struct><member><name>faultCode</name><value><int> +1007 </int></value></member>'
      '<member><name>faultString</name><value><string>busy</string></value></member></struct></value></fault></methodResponse><!-- end -->')
fault("tabs-and-empty-faultstring.xml",
      '<?xml version="1.0"?>\n<methodResponse>\n\t<fault>\n\t\t<value>\n\t\t\t<struct>\n\t\t\t\t<member><name>faultCode</name><value><i4>1007</i4></value></member>\n'
      '\t\t\t\t<member><name>faultString</name><value><string/></value></member>\n\t\t\t</struct>\n\t\t</value>\n\t</fault>\n</methodResponse>\n')

fault("prolog-quotes-a-success.xml",
      '<?xml version="1.0"?>\n<?xml-stylesheet href="rpc.xsl"?>\n<!-- was: <methodResponse><params> -->\n<methodResponse\n  xmlns:ex="http://ws.apache.org/xmlrpc/namespaces/extensions">\n'
      '<!-- first child --><fault><value><struct><member><name>faultCode</name><value><i4>1007</i4></value></member>'
      '<member><name>faultString</name><value><string>overloaded</string></value></member></struct></value></fault></methodResponse>')

S = '<member><name>faultString</name><value><string>overloaded</string></value></member>'
def fault_doc(code_value, extra=""):
    return ('<?xml version="1.0"?><methodResponse><fault><value><struct><member><name>faultCode</name><value>' + code_value +
            '</value></member>' + S + extra + '</struct></value></fault></methodResponse>')

# Look-alikes: each must reach the client byte for byte and mark nothing.
lookalike("fault-21007.xml", fault_doc("<int>21007</int>"))
lookalike("fault-10070.xml", fault_doc("<i4>10070</i4>"))
lookalike("fault-4-string-mentions-1007-i4.xml",
          '<?xml version="1.0"?><methodResponse><fault><value><struct><member><name>faultCode</name><value><i4>4</i4></value></member>'
          '<member><name>faultString</name><value><string>Too many parameters: faultCode value i4 1007 i4</string></value></member>'
          '</struct></value></fault></methodResponse>')
lookalike("success-struct-member-faultcode-1007.xml", xmlrpc.client.dumps(({"faultCode": 1007, "faultString": "not a fault"},), methodresponse=True))
lookalike("success-escaped-fault-text.xml", xmlrpc.client.dumps(
    (xmlrpc.client.dumps(xmlrpc.client.Fault(1007, "quoted"), methodresponse=True),), methodresponse=True))
lookalike("success-cdata-fault.xml",
          '<?xml version="1.0"?><methodResponse><params><param><value><string><![CDATA[<methodResponse><fault><value><struct><member><name>faultCode</name>'
          '<value><int>1007</int></value></member></struct></value></fault></methodResponse>]]></string></value></param></params></methodResponse>')
lookalike("faultcode-as-string.xml", fault_doc("<string>1007</string>"))
lookalike("faultcode-untyped.xml", fault_doc("1007"))
lookalike("faultcode-i8.xml", fault_doc("<i8>1007</i8>"))
lookalike("faultcode-double.xml", fault_doc("<double>1007</double>"))
lookalike("two-faultcodes.xml", fault_doc("<int>1007</int>", '<member><name>faultCode</name><value><int>4</int></value></member>'))
lookalike("fault-and-params.xml",
          '<?xml version="1.0"?><methodResponse><fault><value><struct><member><name>faultCode</name><value><int>1007</int></value></member>' + S +
          '</struct></value></fault><params><param><value><string>ok</string></value></param></params></methodResponse>')
lookalike("trailing-garbage.xml", fault_doc("<int>1007</int>") + "<extra/>")
lookalike("truncated.xml", fault_doc("<int>1007</int>")[:-30])
lookalike("namespaced-root.xml", fault_doc("<int>1007</int>").replace("<methodResponse>", '<x:methodResponse xmlns:x="urn:x">').replace("</methodResponse>", "</x:methodResponse>"))
lookalike("methodcall-echo.xml",
          '<?xml version="1.0"?><methodCall><methodName>echo</methodName><params><param><value><struct><member><name>faultCode</name>'
          '<value><i4>1007</i4></value></member></struct></value></param></params></methodCall>')
lookalike("doctype-entity.xml",
          '<?xml version="1.0"?><!DOCTYPE methodResponse [<!ENTITY code "1007">]><methodResponse><fault><value><struct><member>'
          '<name>faultCode</name><value><int>&code;</int></value></member>' + S + '</struct></value></fault></methodResponse>')
lookalike("external-entity.xml",
          '<?xml version="1.0"?><!DOCTYPE methodResponse [<!ENTITY code SYSTEM "file:///etc/hostname">]><methodResponse><fault><value><struct><member>'
          '<name>faultCode</name><value><int>&code;</int></value></member>' + S + '</struct></value></fault></methodResponse>')
lookalike("text-inside-fault.xml", fault_doc("<int>1007</int>").replace("<fault>", "<fault>busy"))
lookalike("html-page.xml",
          '<html><body><p>faultCode value i4 1007 i4</p><pre>&lt;methodResponse&gt;&lt;fault&gt;...&lt;i4&gt;1007&lt;/i4&gt;</pre></body></html>')
lookalike("founding-words-plain.xml", 'faultCode value <i4>1007</i4> i4')
lookalike("deep-nesting.xml", fault_doc("<int>1007</int>", '<member><name>x</name><value>' + "<array><data><value>" * 200 + "</value></data></array>" * 200 + '</value></member>'))
lookalike("value-before-name.xml",
          '<?xml version="1.0"?><methodResponse><fault><value><struct><member><value><int>1007</int></value><name>faultCode</name></member>'
          + S + '</struct></value></fault></methodResponse>')
fault("name-and-code-in-cdata-pieces.xml",
      '<?xml version="1.0"?><methodResponse><fault><value><struct><member><name>fault<![CDATA[Code]]></name><value><int><![CDATA[10]]>07</int></value></member>'
      + S + '</struct></value></fault></methodResponse>')
fault("character-references.xml", fault_doc("<int>&#49;&#x30;07</int>"))
print("corpus written")
